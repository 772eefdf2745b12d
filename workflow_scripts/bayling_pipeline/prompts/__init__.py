"""Shared by synthesis, fine-tuning and decoding: prompt templates, chat formats, chat
tokenization and batched generation.
"""
