"""The enterprise graph: strawberry types, resolvers and the schema."""
