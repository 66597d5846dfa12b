"""The GraphQL API (strawberry): schema types, resolvers, DataLoaders and the ASGI view."""
