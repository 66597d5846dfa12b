"""Resolvers: root fields, mutations (one module per card section), DataLoaders."""
