"""The assistant's tools on top of the library: one session per user (`session`), read by a model
through the LangChain tools (`langchain`, extra `[langchain]`) or an MCP server (`mcp`, extra `[mcp]`)."""
