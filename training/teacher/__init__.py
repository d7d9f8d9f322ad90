"""The transformer teacher: fine-tune a small pretrained encoder, export it to ONNX, label texts.

The teacher is a training-time tool only (torch and transformers live in the `train` extra): it
never enters a bundle or the serving image. Its soft labels are what the LSTM student learns from.
"""
