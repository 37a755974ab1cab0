"""Parts of the one message catalog, by area; `bot.render.i18n.MESSAGES` merges them.

Each part maps a language to its messages (see `bot.render.i18n` for the message format). Ids are
unique across parts, and every language has every id (tests/test_catalog.py checks both).
"""
