"""Chat model backends behind one small interface, and the prompts we send them."""
