from platformio.public import PlatformBase


class NcaavrPlatform(PlatformBase):
    """All tools come from PATH; nothing to install from a registry."""
