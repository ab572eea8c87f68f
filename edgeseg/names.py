"""The tensor names every edgeseg graph, engine and runner uses (torch-free, so runners and builders share
them without importing torch)."""

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
