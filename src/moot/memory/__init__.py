"""Memory in three layers (design §6): episodic, semantic, procedural; recalled within a token budget."""
