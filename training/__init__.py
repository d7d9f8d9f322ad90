"""Offline half: labelled text -> tokenizer -> LSTM -> verified ONNX model bundle."""
