"""Environments, collection of episodes, shipped experts and their demonstrations."""
