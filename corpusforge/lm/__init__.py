"""The language models the perplexity stage scores with: SentencePiece + KenLM trained on reference text."""
