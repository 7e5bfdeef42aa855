"""Container images jhubctl builds: a build context from the installed package, a content-hash tag, and two
builders (ACR Tasks in the registry, or `docker buildx` on this machine)."""
