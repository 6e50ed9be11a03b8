"""Runnable examples for other services: publishing with the SDK, subscribing to certificates."""
