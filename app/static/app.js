// The playground: calls /models, /predict and /explain of this same service. No dependencies.
// "By sentence" adds `"sentences": true`: each sentence is coloured by its own label.
"use strict";

const KEY_STORE = "sentiment-api-key";
const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem(KEY_STORE) || "", explanation: null, text: "" };

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (state.key) headers.Authorization = `Bearer ${state.key}`;
  const init = body === undefined ? { headers } : { method: "POST", headers, body: JSON.stringify(body) };
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401) $("key-form").hidden = false;
    throw new ApiError(response.status, data.error || `HTTP ${response.status}`);
  }
  return data;
}

function setStatus(message, isError = false) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

async function loadModels() {
  try {
    const data = await api("/models");
    const select = $("model");
    select.replaceChildren();
    for (const model of data.models) {
      const option = element("option", `${model.name} (${model.language})`);
      option.value = model.name;
      option.selected = model.name === data.default;
      select.append(option);
    }
    setStatus("");
  } catch (error) {
    setStatus(error.status === 401 ? "Enter the API key to start." : error.message, true);
  }
}

function renderBars(probabilities) {
  const bars = $("bars");
  bars.replaceChildren();
  for (const [label, p] of Object.entries(probabilities)) {
    const bar = element("div", undefined, "bar");
    bar.setAttribute("role", "img");
    bar.setAttribute("aria-label", `${label} ${(100 * p).toFixed(1)}%`);
    const fill = element("span", undefined, label);
    fill.style.width = `${(100 * p).toFixed(2)}%`;
    bar.append(fill);
    bars.append(element("span", label), bar, element("span", `${(100 * p).toFixed(1)}%`, "num"));
  }
}

function signed(value) {
  return `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(2)}`;
}

function colour(value, scale) {
  const strength = Math.min(1, Math.abs(value) / scale);
  const rgb = value >= 0 ? "var(--pos)" : "var(--neg)";
  return `rgba(${rgb}, ${(0.85 * strength).toFixed(3)})`;
}

function renderWords() {
  const { explanation, text } = state;
  const label = $("toward").value;
  const values = explanation.words.map((w) => w.contributions[label]);
  const scale = Math.max(0.1, ...values.map(Math.abs));
  const box = $("highlighted");
  box.replaceChildren();
  let at = 0;
  explanation.words.forEach((word, i) => {
    if (word.start > at) box.append(text.slice(at, word.start));
    const mark = element("mark", text.slice(word.start, word.end));
    const value = values[i];
    mark.style.backgroundColor = colour(value, scale);
    mark.title = `${signed(value)} log-odds toward ${label}`;
    mark.dataset.contribution = String(value);
    box.append(mark);
    at = word.end;
  });
  if (at < text.length) box.append(text.slice(at));
  $("top-words").textContent = strongest(explanation.words, values, text, label);
  $("legend-low").textContent = `−${scale.toFixed(2)}`;
  $("legend-high").textContent = `+${scale.toFixed(2)} log-odds toward ${label}`;
}

function strongest(words, values, text, label) {
  const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a]);
  const show = (i) => `${text.slice(words[i].start, words[i].end)} (${signed(values[i])})`;
  const up = order.filter((i) => values[i] > 0).slice(0, 3).map(show);
  const down = order.filter((i) => values[i] < 0).reverse().slice(0, 3).map(show);
  return `Most for ${label}: ${up.join(", ") || "none"}. Most against: ${down.join(", ") || "none"}.`;
}

function sentenceSpans(text, sentences) {
  // The text with each sentence in a span coloured by its label; gaps stay plain text.
  const nodes = [];
  let at = 0;
  for (const sentence of sentences) {
    if (sentence.start > at) nodes.push(document.createTextNode(text.slice(at, sentence.start)));
    const span = element("span", text.slice(sentence.start, sentence.end), `sentence ${sentence.label}`);
    span.dataset.label = sentence.label;
    span.title = `${sentence.label}: ${probabilityText(sentence.probabilities)}`;
    nodes.push(span);
    at = sentence.end;
  }
  if (at < text.length) nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}

function aggregateText(aggregate) {
  const mixed = aggregate.mixed_score === null ? "one sentence" : aggregate.mixed
    ? `mixed (${aggregate.mixed_score.toFixed(2)} ≥ ${aggregate.mixed_threshold})`
    : `not mixed (${aggregate.mixed_score.toFixed(2)} < ${aggregate.mixed_threshold})`;
  return `Over ${aggregate.sentences} sentence(s): ${aggregate.label} ` +
    `(${(100 * aggregate.score).toFixed(1)}%, length-weighted mean); ${mixed}.`;
}

function showSentences(answer, text) {
  const part = $("sentences-part");
  part.hidden = !answer.sentences;
  if (!answer.sentences) return;
  $("sentences").replaceChildren(...sentenceSpans(text, answer.sentences));
  $("aggregate").textContent = aggregateText(answer.aggregate);
}

function showExplanation(explanation, text) {
  state.explanation = explanation;
  state.text = text;
  $("label").textContent = explanation.label;
  $("score").textContent = `(${(100 * explanation.score).toFixed(1)}%${explanation.truncated ? ", text truncated" : ""})`;
  renderBars(explanation.probabilities);
  const toward = $("toward");
  toward.replaceChildren();
  for (const label of Object.keys(explanation.probabilities)) {
    const option = element("option", label);
    option.selected = label === explanation.label;
    toward.append(option);
  }
  $("method").textContent = `method: ${explanation.method}`;
  showSentences(explanation, text);
  renderWords();
  $("result").hidden = false;
}

async function explainOne(text) {
  const body = { text, model: $("model").value || undefined };
  if ($("by-sentence").checked) body.sentences = true;
  const data = await api("/explain", body);
  showExplanation(data.explanations[0], text);
}

function probabilityText(probabilities) {
  return Object.entries(probabilities)
    .map(([label, p]) => `${label} ${(100 * p).toFixed(1)}%`)
    .join(", ");
}

function tableRow(text, prediction, index) {
  const row = element("tr");
  const why = element("button", "Explain", "link");
  why.type = "button";
  why.setAttribute("aria-label", `Explain text ${index + 1}`);
  why.addEventListener("click", () => {
    document.querySelectorAll("#table tr.chosen").forEach((r) => r.classList.remove("chosen"));
    row.classList.add("chosen");
    run(() => explainOne(text));
  });
  const textCell = element("td", undefined, "text");
  textCell.append(...(prediction.sentences ? sentenceSpans(text, prediction.sentences) : [text]));
  if (prediction.aggregate && prediction.aggregate.mixed) textCell.append(" ", element("span", "mixed", "tag mixed"));
  const cells = [
    element("td", String(index + 1)),
    textCell,
    element("td", prediction.label),
    element("td", `${(100 * prediction.score).toFixed(1)}%`, "num"),
    element("td", probabilityText(prediction.probabilities)),
  ];
  const last = element("td");
  last.append(why);
  row.append(...cells, last);
  return row;
}

async function predictList(texts) {
  const request = { texts, model: $("model").value || undefined };
  if ($("by-sentence").checked) request.sentences = true;
  const data = await api("/predict", request);
  const body = $("table").tBodies[0];
  body.replaceChildren(...data.predictions.map((p, i) => tableRow(texts[i], p, i)));
  $("table-section").hidden = false;
}

async function run(action) {
  const button = $("run");
  button.disabled = true;
  setStatus("Working…");
  try {
    await action();
    setStatus("Done.");
  } catch (error) {
    setStatus(error.message, true);
  } finally {
    button.disabled = false;
  }
}

function submit(event) {
  event.preventDefault();
  const text = $("text").value;
  if (!text.trim()) {
    setStatus("Type a text first.", true);
    return;
  }
  if ($("as-list").checked) {
    const texts = text.split("\n").filter((line) => line.trim());
    run(() => predictList(texts));
  } else {
    run(() => explainOne(text));
  }
}

function useKey(event) {
  event.preventDefault();
  state.key = $("key").value.trim();
  sessionStorage.setItem(KEY_STORE, state.key);
  $("key-form").hidden = true;
  loadModels();
}

document.addEventListener("DOMContentLoaded", () => {
  $("form").addEventListener("submit", submit);
  $("key-form").addEventListener("submit", useKey);
  $("toward").addEventListener("change", renderWords);
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("form").requestSubmit();
  });
  loadModels();
});
