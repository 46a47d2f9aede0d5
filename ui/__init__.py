"""The Gradio web chat (`sourcechat serve`)."""
