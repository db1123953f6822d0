"""Classification models: sentiment, emotion and the shared multilingual-e5 base encoder."""
