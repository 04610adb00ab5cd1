"""The fast path of `yamlsource.parse_yaml`: a plain document read straight from the parser's events.

Composing a document into nodes keeps two marks per value, and recording `path -> Location` for
every value keeps as many again: for a 50,000-person plan some 600 MB at its peak and most of the
start-up's 20 s, to say where a value was written, which matters only when something is wrong
with it. So a document is first read here, from the events, without nodes or positions, into the
same lists, dicts and scalars the node walker would produce. Anything out of the ordinary (an
anchor, alias or merge key, an explicit tag, a duplicate or non-scalar key, a value that does not
read, nesting past the limit, a second document, a syntax error) gives up and leaves the document
to the walker, which reads it with positions and reports each problem; so do positions asked for
later, e.g. for a validation error (`YamlDocument.locations`).
"""

from __future__ import annotations

from typing import Any

from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import ScalarNode

_STR = "tag:yaml.org,2002:str"
#: the implicit tags a plain value may read as here; any other (merge key `<<`, value `=`) goes to
#: the walker
_READ_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp")
)


class _GiveUp(Exception):
    """Not a plain document: the walker reads it."""


_NO_KEY: Any = object()


class PlainReader:
    """Reads one document with a loader class of `yamlsource` (its scalar resolution and
    constructors); `read` returns the data or raises `_GiveUp`."""

    def __init__(self, loader_class: Any, max_depth: int) -> None:
        self.loader_class = loader_class
        self.max_depth = max_depth
        resolvers = loader_class.yaml_implicit_resolvers
        wildcard = list(resolvers.get(None, []))
        self.by_first: dict[str, list[tuple[str, Any]]] = {
            first: [*found, *wildcard] for first, found in resolvers.items() if first is not None
        }
        self.wildcard = wildcard

    def scalar(self, loader: Any, value: str, plain: bool) -> Any:
        if not plain:
            return value
        resolvers = self.by_first.get(value[:1], self.wildcard)
        tag = next((tag for tag, pattern in resolvers if pattern.match(value)), _STR)
        if tag == _STR:
            return value
        if tag not in _READ_TAGS:
            raise _GiveUp(tag)
        return loader.yaml_constructors[tag](loader, ScalarNode(tag, value))

    def read(self, text: str) -> Any:
        loader = self.loader_class(text)
        try:
            return self._events(loader)
        finally:
            loader.dispose()

    def _events(self, loader: Any) -> Any:  # one loop over the event kinds
        get = loader.get_event
        if type(get()) is not StreamStartEvent:
            raise _GiveUp("stream")
        event = get()
        if type(event) is StreamEndEvent:
            return None
        if type(event) is not DocumentStartEvent:
            raise _GiveUp("document")
        stack: list[Any] = []  # open lists and dicts, innermost last
        keys: list[Any] = []  # per open dict: the key whose value comes next, or _NO_KEY
        root: Any = None
        depth = self.max_depth
        while True:
            event = get()
            kind = type(event)
            if kind is ScalarEvent:
                if event.anchor is not None or event.tag is not None or len(stack) >= depth:
                    raise _GiveUp("scalar")
                value = self.scalar(loader, event.value, event.implicit[0])
                container = False
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if event.anchor is not None or event.tag is not None or len(stack) >= depth:
                    raise _GiveUp("collection")
                value = {} if kind is MappingStartEvent else []
                container = True
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                stack.pop()
                keys.pop()
                continue
            elif kind is DocumentEndEvent:
                break
            else:  # an alias, or anything unforeseen
                raise _GiveUp(kind.__name__)
            if not stack:
                root = value
            else:
                top = stack[-1]
                if type(top) is list:
                    top.append(value)
                elif keys[-1] is _NO_KEY:
                    if container:
                        raise _GiveUp("key")
                    if not isinstance(value, str | int | float | bool) and value is not None:
                        value = str(value)
                    if value in top:
                        raise _GiveUp("duplicate")
                    keys[-1] = value
                else:
                    top[keys[-1]] = value
                    keys[-1] = _NO_KEY
            if container:
                stack.append(value)
                keys.append(_NO_KEY)
        if type(get()) is not StreamEndEvent:
            raise _GiveUp("second document")
        return root


def read_plain(reader: PlainReader, text: str) -> tuple[bool, Any]:
    """(True, data) for a plain document, (False, None) when the walker must read it."""
    try:
        return True, reader.read(text)
    except Exception:  # whatever it is, the walker reads it again and says what
        return False, None
