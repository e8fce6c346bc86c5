"""Configuration, connections and process lifecycle shared by the API and the worker."""
