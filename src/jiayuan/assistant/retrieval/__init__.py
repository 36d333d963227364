"""Retrieval over the knowledge base: Chinese segmentation, synonyms, BM25 indexes."""
