"""The engine side: asking a running inference server (sglang) for candidate outputs."""
