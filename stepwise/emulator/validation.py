"""What AWS rejects server-side that botocore lets through, with AWS's error.

botocore validates a request client-side against the service model, but only partly: required
members, unknown members, types, and the `min` of strings, lists and numbers (botocore/validate.py).
The service then checks the rest of the model (string and list `max`, map `min`/`max`, blob lengths,
number `max`, `pattern`, `enum`) and its own rules, and answers with an error whose code, HTTP status
and message local mode must reproduce. This module does those checks, from botocore's own service
models, for any botocore service; and a few documented rules that are not in the models for the
services the pipeline uses (Step Functions names and ARNs, S3 keys and bucket names, SNS Publish,
CloudWatch Logs, Lambda's payload limit).

    from stepwise.emulator import validation

    rejected = validation.check("sagemaker", "CreateTrainingJob", request)
    if rejected is not None:
        raise rejected.client_error()          # a real botocore ClientError
    validation.validate("stepfunctions", "StartExecution", request)   # raises RequestRejected
    validation.errors("sagemaker", "CreateModel", request)            # every violation, for reports

The error formats (tests/unit/test_validation.py pins them; sources below):

- Model constraints, JSON services (Coral validation): one error listing up to 10 violations,
  `N validation error(s) detected: Value '<value>' at '<path>' failed to satisfy constraint:
  Member must ...; Value ...`. The path is the member names with a lowercase first letter, list
  items as `<list>.<n>.member` (1-based) and map entries as `<map>.<key>.member`; a map whose keys or
  values break their shape's constraints is reported once per side at the map's path ("Map keys must
  satisfy constraint: [...]"). `null` is not quoted; a sensitive member's value is left out
  (`Value at 'input' ...`). Patterns must match the whole value (AWS uses Java's `matches`), and a
  string's length counts Unicode code points (Smithy's length trait: "Unicode scalar values"), a
  blob's counts bytes. The code is per service: `ValidationException` (SageMaker, Step Functions,
  EventBridge, Lambda), `InvalidParameterException` (CloudWatch Logs), `ValidationError` (SNS and
  the SageMaker runtime); HTTP 400.
- Service rules carry their own code and message (`InvalidName`, `InvalidArn`, `KeyTooLongError`,
  `InvalidParameter`...) and AWS reports only the first; they are checked after the model
  constraints, except size limits enforced before the request is parsed (Lambda's 6 MB payload).

Where the formats come from (AWS's answers as published in public issue threads):
- Coral messages, pattern before length, list paths: "2 validation errors detected: ... at
  'trainingJobName' ... regular expression pattern ...; ... length less than or equal to 63"
  (zenml-io/zenml#1502), 'resourceConfig.instanceType' enum
  (aws-samples/aws-sagemaker-heart-disease-prediction#1), 'productionVariants.1.member.instanceType',
  DynamoDB's 'attributeDefinitions.1.member.attributeType'; at most "10 validation errors detected"; maps:
  "Map value must satisfy constraint: [...]" (Cognito 'logins', Lambda routing weights); sensitive
  values left out: "Value at 'password'" (Cognito), "Value at 'input'" (Step Functions).
- Step Functions: an 81-character execution name is ValidationException "... at 'name' ... less than
  or equal to 80" (getmoto/moto#6438, gchq/sleeper#1869), not InvalidName; "Invalid Name: '<name>'",
  "Invalid Arn: 'Invalid ARN prefix: <arn>'" (StateMachineDoesNotExist is checked before the name).
- CloudWatch Logs: "InvalidParameterException: 1 validation error detected: ... at 'logGroupName'"
  and "Log groups starting with AWS/ are reserved for AWS."; Lambda: "ValidationException ... at
  'functionName'", 413 RequestEntityTooLargeException "Request must be smaller than 6291456 bytes
  for the InvokeFunction operation".
- SNS: a Subject of 100 characters passes and 101 is "InvalidParameter: Invalid parameter: Subject"
  (getmoto/moto#1503); message attribute errors carry the model's wire code ParameterValueInvalid.
- S3: KeyTooLongError "Your key is too long.", InvalidBucketName "The specified bucket is not
  valid.", MetadataTooLarge (S3 API reference, error codes) and the bucket naming rules.

Service-model patterns are Java regular expressions; `java_regex` translates the constructs Python's
`re` lacks or reads differently (`\\p{...}` classes, surrogate-pair escapes, `&&` and nested classes,
`\\x{...}`, `\\z`, mid-pattern inline flags, quantified anchors, ASCII `\\w\\d\\s`, Java's `.`).
Every plan is compiled once per (service, operation) and skips the members whose subtree has no
constraint: a valid request costs less than botocore's own validation of it (bench/request_validation.py).
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from botocore.exceptions import ClientError
from botocore.model import OperationModel, ServiceModel, Shape

from stepwise.emulator import service_models

__all__ = [
    "MAX_REPORTED",
    "RequestRejected",
    "Violation",
    "check",
    "error_response",
    "errors",
    "java_regex",
    "validate",
]

MAX_REPORTED = 10  # Coral lists at most this many violations ("10 validation errors detected: ...")

# --------------------------------------------------------------------------------------------------
# Java regular expressions -> Python `re`
# --------------------------------------------------------------------------------------------------

_MAX_CP = 0x10FFFF
Ranges = list[tuple[int, int]]


def _normalize(ranges: Iterable[tuple[int, int]]) -> Ranges:
    merged: Ranges = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _complement(ranges: Ranges) -> Ranges:
    result: Ranges = []
    start = 0
    for lo, hi in ranges:
        if lo > start:
            result.append((start, lo - 1))
        start = hi + 1
    if start <= _MAX_CP:
        result.append((start, _MAX_CP))
    return result


def _intersect(a: Ranges, b: Ranges) -> Ranges:
    result: Ranges = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            result.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return result


def _chars(text: str) -> Ranges:
    return _normalize((ord(c), ord(c)) for c in text)


@functools.cache
def _general_categories() -> dict[str, Ranges]:
    """Unicode general category (two letters) -> code point ranges; built once (about 0.1 s)."""
    categories: dict[str, Ranges] = {}
    category = unicodedata.category
    start, current = 0, category("\x00")
    for cp in range(1, _MAX_CP + 1):
        value = category(chr(cp))
        if value != current:
            categories.setdefault(current, []).append((start, cp - 1))
            start, current = cp, value
    categories.setdefault(current, []).append((start, _MAX_CP))
    return categories


_CATEGORY_NAMES = frozenset(
    ["L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc", "Pd"]
    + ["Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So", "Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf"]
    + ["Cs", "Co", "Cn"]
)


def _category(name: str) -> Ranges:
    categories = _general_categories()
    if len(name) == 1:
        return _normalize(r for key, ranges in categories.items() if key[0] == name for r in ranges)
    return categories.get(name, [])


_ASCII_CLASSES: dict[str, Ranges] = {  # Java's POSIX classes are US-ASCII only
    "Lower": [(0x61, 0x7A)],
    "Upper": [(0x41, 0x5A)],
    "ASCII": [(0x00, 0x7F)],
    "Alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "Digit": [(0x30, 0x39)],
    "Alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "Punct": _chars("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "Graph": [(0x21, 0x7E)],
    "Print": [(0x20, 0x7E)],
    "Blank": [(0x09, 0x09), (0x20, 0x20)],
    "Cntrl": [(0x00, 0x1F), (0x7F, 0x7F)],
    "XDigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
    "Space": [(0x09, 0x0D), (0x20, 0x20)],
}
_WHITE_SPACE: Ranges = [  # Unicode White_Space
    (0x09, 0x0D),
    (0x20, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
]
# Java's predefined classes, ASCII unless UNICODE_CHARACTER_CLASS (which AWS's patterns do not set)
_DIGIT: Ranges = [(0x30, 0x39)]
_WORD: Ranges = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
_SPACE: Ranges = [(0x09, 0x0D), (0x20, 0x20)]
_HSPACE: Ranges = _normalize(
    [(0x09, 0x09), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x180E, 0x180E), (0x2000, 0x200A)]
    + [(0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000)]
)
_VSPACE: Ranges = [(0x0A, 0x0D), (0x85, 0x85), (0x2028, 0x2029)]
_PREDEFINED = {"d": _DIGIT, "w": _WORD, "s": _SPACE, "h": _HSPACE, "v": _VSPACE}
_JAVA_DOT_EXCLUDES = "\\n\\r\\x85\\u2028\\u2029"  # Java's `.` stops at every line terminator


def _java_whitespace() -> Ranges:
    """java.lang.Character.isWhitespace: separators except no-break spaces, and \\t-\\r, \\x1c-\\x1f."""
    separators = _normalize(_category("Zs") + _category("Zl") + _category("Zp"))
    no_break = [(0xA0, 0xA0), (0x2007, 0x2007), (0x202F, 0x202F)]
    return _normalize(_intersect(separators, _complement(no_break)) + [(0x09, 0x0D), (0x1C, 0x1F)])


def _binary_property(name: str) -> Ranges | None:
    key = name.replace("_", "").replace(" ", "").lower()
    table: dict[str, Callable[[], Ranges]] = {
        # Alphabetic is L + Nl + Other_Alphabetic; Python has no Other_Alphabetic (combining signs)
        "alphabetic": lambda: _normalize(_category("L") + _category("Nl")),
        "whitespace": lambda: _WHITE_SPACE,
        "letter": lambda: _category("L"),
        "lowercase": lambda: _category("Ll"),
        "uppercase": lambda: _category("Lu"),
        "titlecase": lambda: _category("Lt"),
        "punctuation": lambda: _category("P"),
        "control": lambda: _category("Cc"),
        "digit": lambda: _category("Nd"),
        "hexdigit": lambda: _ASCII_CLASSES["XDigit"],
        "assigned": lambda: _complement(_category("Cn")),
    }
    build = table.get(key)
    return build() if build else None


_JAVA_CHARACTER_CLASSES: dict[str, Callable[[], Ranges]] = {
    "javaLowerCase": lambda: _category("Ll"),
    "javaUpperCase": lambda: _category("Lu"),
    "javaTitleCase": lambda: _category("Lt"),
    "javaDigit": lambda: _category("Nd"),
    "javaLetter": lambda: _category("L"),
    "javaLetterOrDigit": lambda: _normalize(_category("L") + _category("Nd")),
    "javaAlphabetic": lambda: _normalize(_category("L") + _category("Nl")),
    "javaWhitespace": _java_whitespace,
    "javaSpaceChar": lambda: _normalize(_category("Z")),
    "javaISOControl": lambda: [(0x00, 0x1F), (0x7F, 0x9F)],
}


@functools.cache
def _property(name: str) -> tuple[tuple[int, int], ...]:
    """The code points of Java's `\\p{name}`; ValueError for a property this module cannot map."""
    if name in _ASCII_CLASSES:
        return tuple(_ASCII_CLASSES[name])
    if name in _JAVA_CHARACTER_CLASSES:
        return tuple(_JAVA_CHARACTER_CLASSES[name]())
    special: dict[str, Callable[[], Ranges]] = {
        "all": lambda: [(0, _MAX_CP)],
        "L1": lambda: [(0, 0xFF)],  # Latin-1
        "LC": lambda: _normalize(_category("Lu") + _category("Ll") + _category("Lt")),
        "LD": lambda: _normalize(_category("L") + _category("Nd")),  # letter or digit
    }
    if name in special:
        return tuple(special[name]())
    for prefix in ("general_category=", "gc=", "Is", ""):
        if name.startswith(prefix):
            rest = name[len(prefix) :]
            if rest in _CATEGORY_NAMES:
                return tuple(_category(rest))
            if prefix == "Is":
                ranges = _binary_property(rest)
                if ranges is not None:
                    return tuple(ranges)
    raise ValueError(f"unsupported Java character property \\p{{{name}}}")


def _py_char(cp: int) -> str:
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def _py_class(ranges: Ranges) -> str:
    if not ranges:
        return f"[^\\x00-{_py_char(_MAX_CP)}]"  # matches nothing, and can still take a quantifier
    parts = [_py_char(lo) if lo == hi else f"{_py_char(lo)}-{_py_char(hi)}" for lo, hi in ranges]
    return "[" + "".join(parts) + "]"


_CONTROL_ESCAPES = {"t": 0x09, "n": 0x0A, "r": 0x0D, "f": 0x0C, "a": 0x07, "e": 0x1B}
_ASSERTIONS = {
    "b": "\\b",
    "B": "\\B",
    "A": "\\A",
    "G": "\\A",  # end of the previous match: at the start of a single match
    "z": "\\Z",  # Java's \z is Python's \Z
    "Z": "(?=(?:\\r\\n|[\\n\\r\\x85\\u2028\\u2029])?\\Z)",  # before a final line terminator
}


def _escape(p: str, i: int) -> tuple[str, Any, int]:
    """The escape at p[i] ('\\'): (kind, value, index after it). Kinds: char (code point), set
    (ranges), text (quoted literal), assert, backref, named_backref, raw (Python regex text)."""
    if i + 1 >= len(p):
        raise ValueError("trailing backslash")
    c, j = p[i + 1], i + 2
    if c in _PREDEFINED:
        return "set", _PREDEFINED[c], j
    if c.lower() in _PREDEFINED:
        return "set", _complement(_PREDEFINED[c.lower()]), j
    if c in "pP":
        if p.startswith("{", j):
            end = p.index("}", j)
            name, j = p[j + 1 : end], end + 1
        else:
            name, j = p[j], j + 1
        ranges = list(_property(name))
        return "set", (_complement(ranges) if c == "P" else ranges), j
    if c == "Q":
        end = p.find("\\E", j)
        return ("text", p[j:], len(p)) if end < 0 else ("text", p[j:end], end + 2)
    if c == "x":
        if p.startswith("{", j):
            end = p.index("}", j)
            return "char", int(p[j + 1 : end], 16), end + 1
        return "char", int(p[j : j + 2], 16), j + 2
    if c == "u":
        cp, j = int(p[j : j + 4], 16), j + 4
        if 0xD800 <= cp <= 0xDBFF and p.startswith("\\u", j):  # a surrogate pair is one code point
            low = int(p[j + 2 : j + 6], 16)
            if 0xDC00 <= low <= 0xDFFF:
                cp, j = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00), j + 6
        return "char", cp, j
    if c == "0":  # \\0n, \\0nn, \\0mnn with m <= 3
        digits = ""
        while j < len(p) and p[j] in "01234567" and len(digits) < 3:
            digits += p[j]
            j += 1
        if len(digits) == 3 and digits[0] > "3":
            digits, j = digits[:2], j - 1
        if not digits:
            raise ValueError("illegal octal escape \\0")
        return "char", int(digits, 8), j
    if c in _CONTROL_ESCAPES:
        return "char", _CONTROL_ESCAPES[c], j
    if c == "c":
        return "char", ord(p[j]) ^ 64, j + 1
    if c in _ASSERTIONS:
        return "assert", c, j
    if c.isdigit():
        while j < len(p) and p[j].isdigit():
            j += 1
        return "backref", p[i + 1 : j], j
    if c == "k" and p.startswith("<", j):
        end = p.index(">", j)
        return "named_backref", p[j + 1 : end], end + 1
    if c == "R":
        return "raw", "(?:\\r\\n|[\\n\\x0b\\x0c\\r\\x85\\u2028\\u2029])", j
    if c == "X":
        return "raw", "(?s:.)", j  # a grapheme cluster; Python's re has none: one code point
    return "char", ord(c), j


def _class_item(p: str, i: int) -> tuple[str, Any, int]:
    if p[i] == "\\":
        kind, value, j = _escape(p, i)
        if kind in ("char", "set", "text"):
            return kind, value, j
        raise ValueError(f"unsupported escape in a character class: {p[i:j]}")
    return "char", ord(p[i]), i + 1


def _parse_class(p: str, i: int) -> tuple[Ranges, int]:
    """A Java character class starting after its '[': unions, nested classes, `&&` intersections,
    negation, ranges; `-` next to a predefined class is a literal. Returns (ranges, index after ']')."""
    negate = p.startswith("^", i)
    if negate:
        i += 1
    members: list[tuple[int, int]] = []
    intersection: Ranges | None = None
    first = True
    while True:
        if i >= len(p):
            raise ValueError("unclosed character class")
        c = p[i]
        if c == "]" and not first:
            i += 1
            break
        first = False
        if c == "[":
            nested, i = _parse_class(p, i + 1)
            members += nested
            continue
        if p.startswith("&&", i):
            current = _normalize(members)
            intersection = current if intersection is None else _intersect(intersection, current)
            members, i = [], i + 2
            continue
        kind, value, j = _class_item(p, i)
        if kind == "char" and p.startswith("-", j) and j + 1 < len(p) and p[j + 1] not in "][":
            hi_kind, hi_value, k = _class_item(p, j + 1)
            if hi_kind == "char":
                if hi_value < value:
                    raise ValueError("illegal character range")
                members.append((value, hi_value))
                i = k
                continue
        if kind == "char":
            members.append((value, value))
        elif kind == "set":
            members += value
        else:
            members += _chars(value)
        i = j
    result = _normalize(members)
    if intersection is not None:
        result = _intersect(intersection, result)
    return (_complement(result) if negate else result), i


_PY_FLAGS = {"i": "i", "m": "m", "s": "s", "x": "x"}  # Java's u, d, U, c have no Python counterpart
_FLAGS_GROUP = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])")
_QUANTIFIER = re.compile(r"\{(\d+)(?:,(\d*))?\}")


@dataclass
class _Frame:
    open_index: int
    lookaround: bool
    flags: str = ""  # the flags of a `(?flags:...)` group
    scopes: list[str] | None = None  # flags set mid-group by `(?flags)`: scoped to the rest of it


def java_regex(pattern: str) -> str:
    """A Python `re` pattern that matches what the Java pattern `pattern` matches (ValueError when
    it uses a construct this translation does not know)."""
    p, i, n = pattern, 0, len(pattern)
    out: list[str] = []
    kinds: list[str] = []  # per token: atom, assert, quant, open, close, alt
    stack = [_Frame(0, False)]
    last_item = -1  # where the last quantifiable item starts in `out`

    def emit(token: str, kind: str) -> None:
        nonlocal last_item
        last_item = len(out)
        out.append(token)
        kinds.append(kind)

    def active(flag: str) -> bool:
        for frame in stack:
            for spec in [frame.flags, *(frame.scopes or [])]:
                if flag in spec.split("-")[0]:
                    return True
        return False

    def close_scopes(frame: _Frame) -> None:
        for _ in frame.scopes or []:
            out.append(")")
            kinds.append("close")

    while i < n:
        c = p[i]
        if active("x") and (c.isspace() or c == "#"):  # comments mode: whitespace and # comments
            end = p.find("\n", i) if c == "#" else i
            i = n if end < 0 else end + 1
            continue
        if c == "\\":
            kind, value, j = _escape(p, i)
            if kind == "char":
                emit(_py_char(value), "atom")
            elif kind == "set":
                emit(_py_class(value), "atom")
            elif kind == "text":
                for ch in value:
                    emit(_py_char(ord(ch)), "atom")
            elif kind == "assert":
                emit(_ASSERTIONS[value], "assert")
            elif kind == "backref":
                emit(f"(?:\\{value})", "atom")
            elif kind == "named_backref":
                emit(f"(?P={value})", "atom")
            else:
                emit(value, "atom")
            i = j
            continue
        if c == "[":
            ranges, i = _parse_class(p, i + 1)
            emit(_py_class(ranges), "atom")
            continue
        if c == ".":
            emit("(?s:.)" if active("s") else f"[^{_JAVA_DOT_EXCLUDES}]", "atom")
            i += 1
            continue
        if c in "^$":
            emit(c, "assert")
            i += 1
            continue
        if c == "(":
            lookaround, flags = False, ""
            if p.startswith(("(?<=", "(?<!"), i):
                token, consumed, lookaround = p[i : i + 4], 4, True
            elif p.startswith(("(?=", "(?!"), i):
                token, consumed, lookaround = p[i : i + 3], 3, True
            elif p.startswith(("(?:", "(?>"), i):
                token, consumed = p[i : i + 3], 3
            elif p.startswith("(?<", i):  # named group
                end = p.index(">", i)
                token, consumed = f"(?P<{p[i + 3 : end]}>", end + 1 - i
            elif p.startswith("(?", i):
                match = _FLAGS_GROUP.match(p, i)
                if match is None:
                    raise ValueError(f"unsupported group construct at {i}: {p[i : i + 6]!r}")
                on = "".join(_PY_FLAGS.get(f, "") for f in match.group(1))
                off = "".join(_PY_FLAGS.get(f, "") for f in match.group(2) or "")
                spec = on + (f"-{off}" if off else "")
                if match.group(3) == ")":  # (?flags): for the rest of the enclosing group
                    if spec:
                        out.append(f"(?{spec}:")
                        kinds.append("open")
                        stack[-1].scopes = [*(stack[-1].scopes or []), spec]
                    i = match.end()
                    continue
                token, consumed, flags = (f"(?{spec}:" if spec else "(?:"), match.end() - i, spec
            else:
                token, consumed = "(", 1
            stack.append(_Frame(len(out), lookaround, flags))
            out.append(token)
            kinds.append("open")
            i += consumed
            continue
        if c == ")":
            if len(stack) == 1:
                raise ValueError(f"unbalanced ')' at {i}")
            frame = stack.pop()
            close_scopes(frame)
            out.append(")")
            kinds.append("assert" if frame.lookaround else "atom")
            last_item = frame.open_index
            i += 1
            continue
        if c == "|":
            frame = stack[-1]
            close_scopes(frame)
            out.append("|")
            kinds.append("alt")
            for spec in frame.scopes or []:
                out.append(f"(?{spec}:")
                kinds.append("open")
            i += 1
            continue
        quantifier = _QUANTIFIER.match(p, i) if c == "{" else None
        if c in "*+?" or quantifier:
            if quantifier:
                token, least, j = quantifier.group(0), int(quantifier.group(1)), quantifier.end()
            else:
                token, least, j = c, (1 if c == "+" else 0), i + 1
            if j < n and p[j] in "?+":  # lazy or possessive
                token, j = token + p[j], j + 1
            previous = kinds[-1] if kinds else None
            if previous == "assert":  # Java repeats an anchor; it still matches nothing
                if least == 0:
                    del out[last_item:], kinds[last_item:]
                i = j
                continue
            if previous == "quant":  # X{11}{0,5}: Java applies the second to the first
                grouped = "(?:" + "".join(out[last_item:]) + ")"
                del out[last_item:], kinds[last_item:]
                out.append(grouped)
                kinds.append("atom")
            elif previous != "atom":
                raise ValueError(f"dangling quantifier at {i}")
            out.append(token)
            kinds.append("quant")
            i = j
            continue
        emit(re.escape(c), "atom")
        i += 1
    if len(stack) != 1:
        raise ValueError("unclosed group")
    close_scopes(stack[0])
    return "".join(out)


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(java_regex(pattern))


# --------------------------------------------------------------------------------------------------
# Violations and the error AWS answers with
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """One thing AWS rejects in a request.

    `kind` is "model" for a service-model constraint (AWS lists up to 10 of them in one error, and
    `message` is then the `Value ... at ... failed to satisfy constraint: ...` clause) or "rule" for
    a service rule (its own code and full message). `extra` holds fields AWS adds to the error
    (S3's BucketName, Size...)."""

    code: str
    message: str
    status: int = 400
    kind: str = "model"
    path: str | None = None
    constraint: str | None = None
    extra: tuple[tuple[str, str], ...] = ()


class RequestRejected(Exception):
    """The error AWS answers a request with; `client_error()` makes botocore's ClientError of it."""

    def __init__(
        self,
        service: str,
        operation: str,
        code: str,
        message: str,
        status: int = 400,
        violations: tuple[Violation, ...] = (),
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.service = service
        self.operation = operation
        self.code = code
        self.message = message
        self.status = status
        self.violations = violations
        self.extra = extra

    @property
    def response(self) -> dict[str, Any]:
        """The error as botocore parses it (ClientError.response)."""
        extra = dict(self.extra)
        return error_response(self.code, self.message, self.status, extra=extra, service=self.service)

    def client_error(self, client: Any = None) -> ClientError:
        """botocore's ClientError of this error; with a boto3 `client`, the modeled class a caller
        catches (`sfn.exceptions.InvalidName`), as botocore raises it for a real response."""
        factory = client.exceptions.from_code(self.code) if client is not None else ClientError
        return factory(self.response, self.operation)


def error_response(
    code: str,
    message: str,
    status: int = 400,
    *,
    extra: dict[str, str] | None = None,
    service: str | None = None,
) -> dict[str, Any]:
    """An AWS error as botocore's parsers leave it: {"Error": {"Code", "Message", ...},
    "ResponseMetadata": {"HTTPStatusCode", ...}}. Query-protocol services (SNS) add Type=Sender."""
    error: dict[str, str] = {"Code": code, "Message": message}
    if service is not None and _protocol(service) in ("query", "ec2") and status < 500:
        error["Type"] = "Sender"
    error.update(extra or {})
    return {
        "Error": error,
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0},
    }


# --------------------------------------------------------------------------------------------------
# How AWS prints values and paths
# --------------------------------------------------------------------------------------------------


def _java_double(x: float) -> str:
    """Java's Double.toString: 1.0, 0.001, 1.0E7, 1.0E-4."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        text = repr(float(x))
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(float(x))).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = int(exponent) + len(digits) - 1
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{power}"


def _render(value: Any, type_name: str | None = None) -> str:
    """A value as AWS's (Java) messages print it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, float) or (type_name in ("float", "double") and isinstance(value, (int, Decimal))):
        return _java_double(float(value))
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return str(value)


def _bound(value: Any, type_name: str) -> str:
    return _java_double(float(value)) if type_name in ("float", "double") else str(value)


Path = tuple[Any, str] | None  # (parent path, segment), rendered only when a violation needs it


def _render_path(path: Path) -> str:
    segments: list[str] = []
    while path is not None:
        path, segment = path
        segments.append(segment)
    return ".".join(reversed(segments))


def _at_most(noun: str, bound: Any) -> str:
    return f"Member must have {noun} less than or equal to {bound}"


def _at_least(noun: str, bound: Any) -> str:
    return f"Member must have {noun} greater than or equal to {bound}"


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


# Raw violation found by a plan: (path, value, constraint phrase, sensitive, shape type)
_Raw = tuple[Path, Any, str, bool, str | None]

# --------------------------------------------------------------------------------------------------
# Plans: the constraints of an operation's input, compiled once
# --------------------------------------------------------------------------------------------------


class _Scalar:
    """A string, number or blob shape's constraints, in the order AWS's messages list them."""

    __slots__ = (
        "type",
        "max",
        "min",
        "pattern",
        "enum",
        "sensitive",
        "utf8_size",
        "checked",
        "phrases",
        "ok",
    )

    def __init__(self, shape: Shape, sensitive: bool, botocore_checked: bool, utf8_size: bool) -> None:
        meta = shape.metadata
        self.type = shape.type_name
        self.sensitive = sensitive
        self.utf8_size = utf8_size
        self.max = meta.get("max")
        self.min = meta.get("min")
        self.pattern = _compiled(meta["pattern"]) if self.type == "string" and "pattern" in meta else None
        enum = getattr(shape, "enum", None) or []
        self.enum = frozenset(enum) if self.type == "string" and enum else None
        phrases: list[tuple[str, str]] = []  # (check, phrase): every constraint, for map messages
        noun = "value" if self.type in ("integer", "long", "float", "double") else "length"
        if self.max is not None:
            if utf8_size:
                size = f"Member must have size less than or equal to {self.max} bytes in UTF-8 encoding"
                phrases.append(("max", size))
            else:
                phrases.append(("max", _at_most(noun, _bound(self.max, self.type))))
        if self.min is not None:
            phrases.append(("min", _at_least(noun, _bound(self.min, self.type))))
        if self.pattern is not None:
            phrases.append(("pattern", f"Member must satisfy regular expression pattern: {meta['pattern']}"))
        if self.enum is not None:
            phrases.append(("enum", f"Member must satisfy enum value set: [{', '.join(enum)}]"))
        self.phrases = phrases
        # what this plan checks: all but the `min` of strings and numbers when botocore checked it
        # client-side (botocore has no blob check); messages about map entries list them all. A
        # value that breaks several is reported pattern first, as AWS's latest messages show
        # ("2 validation errors detected: Value 'x' at 'trainingJobName' failed to satisfy
        # constraint: Member must satisfy regular expression pattern: ...; Value 'x' at
        # 'trainingJobName' failed to satisfy constraint: Member must have length less than ...")
        order = {"pattern": 0, "enum": 1, "max": 2, "min": 3}
        self.checked = sorted(
            (
                (check, phrase)
                for check, phrase in phrases
                if not (check == "min" and botocore_checked and self.type != "blob")
            ),
            key=lambda item: order[item[0]],
        )
        self.ok = self._fast_check()

    def _fast_check(self) -> Callable[[Any], bool]:
        """A predicate for the common case (a valid string): one call, no allocation."""
        checks = {check for check, _ in self.checked}
        if self.type != "string" or self.utf8_size:
            return lambda value: not self.failures(value)
        longest = self.max if "max" in checks else None
        shortest = self.min if "min" in checks else None
        match = self.pattern.fullmatch if "pattern" in checks else None  # type: ignore[union-attr]
        allowed = self.enum if "enum" in checks else None

        def ok(value: Any) -> bool:
            if value.__class__ is not str:  # another type (botocore's to report) or a str subclass
                return not isinstance(value, str) or not self.failures(value)
            if longest is not None and len(value) > longest:
                return False
            if shortest is not None and len(value) < shortest:
                return False
            if match is not None and match(value) is None:
                return False
            return allowed is None or value in allowed

        return ok

    def measure(self, value: Any) -> Any:
        """The quantity `min`/`max` bound, or None when the value is not of this shape's type."""
        if self.type == "string":
            if not isinstance(value, str):
                return None
            return len(value.encode("utf-8")) if self.utf8_size else len(value)
        if self.type == "blob":
            if isinstance(value, (bytes, bytearray)):
                return len(value)
            if isinstance(value, str):
                return len(value.encode("utf-8"))
            return None  # a file-like body: not read here
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            return None
        return value

    def failures(self, value: Any) -> list[str]:
        measured = self.measure(value)
        if measured is None:
            return []
        failed = []
        for check, phrase in self.checked:
            if check == "max":
                bad = measured > self.max
            elif check == "min":
                bad = measured < self.min
            elif check == "pattern":
                bad = self.pattern.fullmatch(value) is None  # type: ignore[union-attr]
            else:
                bad = value not in self.enum  # type: ignore[operator]
            if bad:
                failed.append(phrase)
        return failed

    def check(self, value: Any, path: Path, out: list[_Raw]) -> None:
        if self.ok(value):
            return
        for phrase in self.failures(value):
            out.append((path, value, phrase, self.sensitive, self.type))

    def bracket(self) -> str:
        return "[" + ", ".join(phrase for _, phrase in self.phrases) + "]"


class _List:
    __slots__ = ("max", "min", "member", "sensitive")

    def __init__(self, shape: Shape, member: Any, sensitive: bool, botocore_checked: bool) -> None:
        self.max = shape.metadata.get("max")
        self.min = None if botocore_checked else shape.metadata.get("min")
        self.member = member
        self.sensitive = sensitive

    def own(self, value: list) -> list[str]:
        failed = []
        if self.max is not None and len(value) > self.max:
            failed.append(_at_most("length", self.max))
        if self.min is not None and len(value) < self.min:
            failed.append(_at_least("length", self.min))
        return failed

    def check(self, value: Any, path: Path, out: list[_Raw]) -> None:
        if not isinstance(value, (list, tuple)):
            return
        for phrase in self.own(value):  # type: ignore[arg-type]
            out.append((path, value, phrase, self.sensitive, "list"))
        member = self.member
        if member is not None:
            for index, item in enumerate(value):
                if item is not None:
                    member.check(item, (path, f"{index + 1}.member"), out)


class _Map:
    __slots__ = ("max", "min", "key", "value", "key_phrase", "value_phrase", "sensitive")

    def __init__(self, shape: Shape, key: Any, value: Any, sensitive: bool) -> None:
        # botocore checks neither a map's min nor its max
        self.max = shape.metadata.get("max")
        self.min = shape.metadata.get("min")
        self.key = key
        self.value = value
        self.key_phrase = f"Map keys must satisfy constraint: {key.bracket()}" if key is not None else ""
        self.value_phrase = (
            f"Map value must satisfy constraint: {value.bracket()}" if isinstance(value, _Scalar) else ""
        )
        self.sensitive = sensitive

    def check(self, value: Any, path: Path, out: list[_Raw]) -> None:
        if not isinstance(value, dict):
            return
        if self.max is not None and len(value) > self.max:
            out.append((path, value, _at_most("length", self.max), self.sensitive, "map"))
        if self.min is not None and len(value) < self.min:
            out.append((path, value, _at_least("length", self.min), self.sensitive, "map"))
        key = self.key
        if key is not None and not all(map(key.ok, value)):
            out.append((path, value, self.key_phrase, self.sensitive, "map"))
        entry = self.value
        if entry is None:
            return
        if isinstance(entry, _Scalar):
            if not all(entry.ok(v) for v in value.values() if v is not None):
                out.append((path, value, self.value_phrase, self.sensitive, "map"))
            return
        for k, v in value.items():
            if v is not None:
                entry.check(v, (path, f"{k}.member"), out)


class _Structure:
    __slots__ = ("members", "required")

    def __init__(self) -> None:
        # (member name, path segment, plan, the plan's fast predicate for scalars)
        self.members: list[tuple[str, str, Any, Callable[[Any], bool] | None]] = []
        self.required: list[tuple[str, str]] = []  # checked only where botocore did not run

    def check(self, value: Any, path: Path, out: list[_Raw]) -> None:
        if not isinstance(value, dict):
            return
        for name, segment in self.required:
            if value.get(name) is None:
                out.append(((path, segment), None, "Member must not be null", False, None))
        for name, segment, plan, ok in self.members:
            item = value.get(name)
            if item is not None and (ok is None or not ok(item)):
                plan.check(item, (path, segment), out)


class _Recursive:
    """A reference to a plan still being compiled (recursive shapes)."""

    __slots__ = ("plans", "key")

    def __init__(self, plans: dict, key: tuple) -> None:
        self.plans = plans
        self.key = key

    def check(self, value: Any, path: Path, out: list[_Raw]) -> None:
        plan = self.plans.get(self.key)
        if plan is not None:
            plan.check(value, path, out)


_COMPILING = object()
# String shapes whose max AWS measures in UTF-8 bytes (and says so), not in characters
_UTF8_SIZE_SHAPES = {("stepfunctions", "SensitiveData")}


class _Compiler:
    def __init__(self, service: str, botocore_checked: bool) -> None:
        self.service = service
        self.botocore_checked = botocore_checked
        self.plans: dict[tuple[str, bool], Any] = {}

    def plan(self, shape: Shape, sensitive: bool = False) -> Any:
        """The checks for values of `shape`, or None when it has nothing botocore leaves unchecked."""
        sensitive = sensitive or bool(shape.metadata.get("sensitive"))
        key = (shape.name, sensitive)
        known = self.plans.get(key)
        if known is _COMPILING:
            return _Recursive(self.plans, key)
        if key in self.plans:
            return known
        self.plans[key] = _COMPILING
        plan = self._build(shape, sensitive)
        self.plans[key] = plan
        return plan

    def _build(self, shape: Shape, sensitive: bool) -> Any:
        kind = shape.type_name
        if kind == "structure":
            if getattr(shape, "is_document_type", False):
                return None
            plan = _Structure()
            for name, member in shape.members.items():
                segment = _lower_first(name)
                child = self.plan(member, sensitive)
                if child is not None:
                    ok = child.ok if isinstance(child, _Scalar) else None
                    plan.members.append((name, segment, child, ok))
            if not self.botocore_checked:
                plan.required = [(name, _lower_first(name)) for name in shape.required_members]
            return plan if (plan.members or plan.required) else None
        if kind == "list":
            member = self.plan(shape.member, sensitive)
            plan = _List(shape, member, sensitive, self.botocore_checked)
            return plan if (member is not None or plan.max is not None or plan.min is not None) else None
        if kind == "map":
            key = self._scalar(shape.key, sensitive)
            value = self.plan(shape.value, sensitive)
            map_plan = _Map(shape, key, value, sensitive)
            if key is None and value is None and map_plan.max is None and map_plan.min is None:
                return None
            return map_plan
        if kind in ("string", "integer", "long", "float", "double", "blob"):
            return self._scalar(shape, sensitive)
        return None  # boolean, timestamp: nothing beyond botocore's type check

    def _scalar(self, shape: Shape, sensitive: bool) -> _Scalar | None:
        if shape.type_name not in ("string", "integer", "long", "float", "double", "blob"):
            return None
        utf8 = (self.service, shape.name) in _UTF8_SIZE_SHAPES
        plan = _Scalar(shape, sensitive or bool(shape.metadata.get("sensitive")), self.botocore_checked, utf8)
        return plan if plan.checked else None


# --------------------------------------------------------------------------------------------------
# Service rules: documented checks that are not in the service models
# --------------------------------------------------------------------------------------------------

Rule = Callable[[dict], Iterator[Violation]]


def _rule(code: str, message: str, status: int = 400, **extra: Any) -> Violation:
    return Violation(
        code=code,
        message=message,
        status=status,
        kind="rule",
        extra=tuple((k, str(v)) for k, v in extra.items()),
    )


# Step Functions: names of state machines, activities and executions (API reference, "name"):
# no whitespace, brackets < > { } [ ], wildcards ? *, special characters " # % \ ^ | ~ ` $ & , ; : /
# nor control characters (U+0000-001F, U+007F-009F). 1-80 characters is in the model.
_SFN_FORBIDDEN = frozenset(' <>{}[]?*"#%\\^|~`$&,;:/')
_SFN_ARN_MEMBERS = ("stateMachineArn", "executionArn", "activityArn")


def _sfn_name_is_invalid(name: str) -> bool:
    return any(c in _SFN_FORBIDDEN or ord(c) <= 0x1F or 0x7F <= ord(c) <= 0x9F for c in name)


def _sfn_arns(params: dict) -> Iterator[Violation]:
    for member in _SFN_ARN_MEMBERS:
        arn = params.get(member)
        if isinstance(arn, str) and not arn.startswith("arn:"):
            yield _rule("InvalidArn", f"Invalid Arn: 'Invalid ARN prefix: {arn}'")


def _sfn_name(params: dict) -> Iterator[Violation]:
    name = params.get("name")
    if isinstance(name, str) and _sfn_name_is_invalid(name):
        yield _rule("InvalidName", f"Invalid Name: '{name}'")


def _reject_constant(value: str) -> Any:
    raise ValueError(f"Non-standard token '{value}'")


def _sfn_input(params: dict) -> Iterator[Violation]:
    document = params.get("input")
    if isinstance(document, str):
        try:
            json.loads(document, parse_constant=_reject_constant)
        except ValueError as error:
            yield _rule("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{error}'")


# S3 (user guide: object keys up to 1,024 bytes of UTF-8; user-defined metadata up to 2 KB, counted
# as the UTF-8 bytes of each key and value; general purpose bucket naming rules)
_S3_KEY_LIMIT = 1024
_S3_METADATA_LIMIT = 2048
_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")


def s3_bucket_name_is_valid(name: str) -> bool:
    """S3's general purpose bucket naming rules (what CreateBucket enforces)."""
    return bool(
        _S3_BUCKET.fullmatch(name)
        and ".." not in name
        and not _IPV4.fullmatch(name)
        and not name.startswith(_S3_RESERVED_PREFIXES)
        and not name.endswith(_S3_RESERVED_SUFFIXES)
    )


def _s3_create_bucket(params: dict) -> Iterator[Violation]:
    name = params.get("Bucket")
    if isinstance(name, str) and not s3_bucket_name_is_valid(name):
        yield _rule("InvalidBucketName", "The specified bucket is not valid.", BucketName=name)


def _s3_key(params: dict) -> Iterator[Violation]:
    key = params.get("Key")
    if isinstance(key, str):
        size = len(key.encode("utf-8"))
        if size > _S3_KEY_LIMIT:
            yield _rule("KeyTooLongError", "Your key is too long.", Size=size, MaxSizeAllowed=_S3_KEY_LIMIT)


def _s3_metadata(params: dict) -> Iterator[Violation]:
    metadata = params.get("Metadata")
    if isinstance(metadata, dict):
        size = sum(len(str(k).encode("utf-8")) + len(str(v).encode("utf-8")) for k, v in metadata.items())
        if size > _S3_METADATA_LIMIT:
            yield _rule("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.")


def _s3_storage_class(valid: frozenset[str]) -> Rule:
    def rule(params: dict) -> Iterator[Violation]:
        storage_class = params.get("StorageClass")
        if isinstance(storage_class, str) and storage_class not in valid:
            yield _rule(
                "InvalidStorageClass",
                "The storage class you specified is not valid",
                StorageClassRequested=storage_class,
            )

    return rule


# SNS Publish (API reference and the errors SNS answers with)
_SNS_MESSAGE_LIMIT = 262_144  # bytes, message attributes included
_SNS_ATTRIBUTE_TYPE = re.compile(r"(String|Number|Binary)(\..+)?")
_SNS_ATTRIBUTE_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")


def _sns_subject_is_invalid(subject: str) -> bool:
    # ASCII, no line breaks or control characters, 1-100 characters (AWS accepts exactly 100)
    return (
        not subject
        or len(subject) > 100
        or not subject.isascii()
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in subject)
    )


def _sns_attribute_name(name: str) -> str | None:
    if len(name) > 256:
        return "Length of message attribute name must be less than 256 bytes."
    if name.startswith("."):
        return "Invalid message attribute name starting with character '.' was found."
    if name.endswith("."):
        return "Invalid message attribute name ending with character '.' was found."
    for index, char in enumerate(name):
        if char not in _SNS_ATTRIBUTE_NAME_CHARS:
            return (
                f"Invalid non-alphanumeric character '#x{ord(char):X}' was found in the message attribute "
                "name. Can only include alphanumeric characters, hyphens, underscores, or dots."
            )
        if char == "." and index and name[index - 1] == ".":
            return "Message attribute name can not have successive '.' character."
    return None


def _sns_attribute(name: str, attribute: dict) -> str | None:
    problem = _sns_attribute_name(name)
    if problem:
        return problem
    data_type = attribute.get("DataType")
    if not isinstance(data_type, str):
        return None  # required: botocore's
    if not _SNS_ATTRIBUTE_TYPE.fullmatch(data_type):
        return (
            f"The message attribute '{name}' has an invalid message attribute type, "
            "the set of supported type prefixes is Binary, Number, and String."
        )
    field = "Binary" if data_type.startswith("Binary") else "String"
    if not any(key.endswith("Value") for key in attribute):
        return (
            f"The message attribute '{name}' must contain non-empty message attribute value "
            f"for message attribute type '{data_type}'."
        )
    if f"{field}Value" not in attribute:
        return f"The message attribute '{name}' with type '{data_type}' must use field '{field}'."
    value = attribute[f"{field}Value"]
    if not value:
        return (
            f"The message attribute '{name}' must contain non-empty message attribute value "
            f"for message attribute type '{data_type}'."
        )
    if data_type.startswith("Number"):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            return f"Could not cast message attribute '{name}' value to number."
    return None


def _size(value: Any) -> int:
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    return len(str(value).encode("utf-8"))


def _sns_publish(params: dict) -> Iterator[Violation]:
    subject = params.get("Subject")
    if isinstance(subject, str) and _sns_subject_is_invalid(subject):
        yield _rule("InvalidParameter", "Invalid parameter: Subject")
    message = params.get("Message")
    if message == "":
        yield _rule("InvalidParameter", "Invalid parameter: Empty message")
    attributes = params.get("MessageAttributes")
    attributes = attributes if isinstance(attributes, dict) else {}
    for name, attribute in attributes.items():
        if isinstance(attribute, dict):
            problem = _sns_attribute(str(name), attribute)
            if problem:
                yield _rule("ParameterValueInvalid", problem)
    if isinstance(message, str):
        size = _size(message) + sum(
            _size(name) + sum(_size(v) for v in attribute.values() if v is not None)
            for name, attribute in attributes.items()
            if isinstance(attribute, dict)
        )
        if size > _SNS_MESSAGE_LIMIT:
            yield _rule("InvalidParameter", "Invalid parameter: Message too long")


def _logs_create_log_group(params: dict) -> Iterator[Violation]:
    name = params.get("logGroupName")
    if isinstance(name, str) and name[:4].lower() == "aws/":
        yield _rule("InvalidParameterException", "Log groups starting with AWS/ are reserved for AWS.")


_LAMBDA_PAYLOAD_LIMIT = 6_291_456  # synchronous Invoke request payload


def _lambda_invoke(params: dict) -> Iterator[Violation]:
    payload = params.get("Payload")
    if isinstance(payload, (bytes, bytearray, str)) and _size(payload) > _LAMBDA_PAYLOAD_LIMIT:
        yield _rule(
            "RequestEntityTooLargeException",
            f"Request must be smaller than {_LAMBDA_PAYLOAD_LIMIT} bytes for the InvokeFunction operation",
            status=413,
        )


_INVOKE_ENDPOINT_BODY_LIMIT = 6_291_456


def _sagemaker_invoke_endpoint(params: dict) -> Iterator[Violation]:
    """SageMaker's front door answers a body over 6 MB with 413 and no error code (boto3 reports the
    status as the code), not the model's ValidationError (stepwise/emulator/sagemaker/runtime.py)."""
    body = params.get("Body")
    if isinstance(body, (bytes, bytearray, str)) and _size(body) > _INVOKE_ENDPOINT_BODY_LIMIT:
        yield _rule("413", f"HTTP content length exceeded {_INVOKE_ENDPOINT_BODY_LIMIT} bytes.", status=413)


# Rules that run before the model is checked (a size limit at the front door)
_EARLY_RULES: dict[tuple[str, str], list[Rule]] = {
    ("lambda", "Invoke"): [_lambda_invoke],
    ("sagemaker-runtime", "InvokeEndpoint"): [_sagemaker_invoke_endpoint],
}


def _rules(service: str, operation: OperationModel) -> list[Rule]:
    name = operation.name
    members = operation.input_shape.members if operation.input_shape is not None else {}
    rules: list[Rule] = []
    if service == "stepfunctions":
        if any(member in members for member in _SFN_ARN_MEMBERS):
            rules.append(_sfn_arns)
        if name in ("StartExecution", "StartSyncExecution", "CreateStateMachine", "CreateActivity"):
            rules.append(_sfn_name)
        if name in ("StartExecution", "StartSyncExecution"):
            rules.append(_sfn_input)
    elif service == "s3":
        if name == "CreateBucket":
            rules.append(_s3_create_bucket)
        if "Key" in members:
            rules.append(_s3_key)
        if "Metadata" in members:
            rules.append(_s3_metadata)
        storage = members.get("StorageClass")
        if storage is not None and getattr(storage, "enum", None):
            rules.append(_s3_storage_class(frozenset(storage.enum)))
    elif service == "sns" and name == "Publish":
        rules.append(_sns_publish)
    elif service == "logs" and name == "CreateLogGroup":
        rules.append(_logs_create_log_group)
    return rules


# --------------------------------------------------------------------------------------------------
# Services and operations
# --------------------------------------------------------------------------------------------------

# The code AWS's model validation answers with, per service (HTTP 400)
_MODEL_ERROR_CODES = {
    "sagemaker": "ValidationException",
    "stepfunctions": "ValidationException",
    "events": "ValidationException",
    "lambda": "ValidationException",
    "logs": "InvalidParameterException",
    "sns": "ValidationError",
    "sagemaker-runtime": "ValidationError",
}
# Services whose model constraints are not checked here: S3 (rest-xml) answers model-level problems
# with its own codes (InvalidArgument, InvalidRequest...), covered only by the rules above
_NO_MODEL_CHECKS = {"s3", "s3control"}
_ALIASES = {"states": "stepfunctions", "runtime.sagemaker": "sagemaker-runtime", "cloudwatchlogs": "logs"}


def _service_model(service: str) -> ServiceModel:
    return service_models.service_model(service)


def _protocol(service: str) -> str:
    return service_models.protocol(_ALIASES.get(service, service))


def _model_error_code(service: str) -> str:
    if service in _MODEL_ERROR_CODES:
        return _MODEL_ERROR_CODES[service]
    return "ValidationError" if _protocol(service) in ("query", "ec2") else "ValidationException"


@functools.cache
def _operation_name(service: str, operation: str) -> str:
    """`CreateTrainingJob`, `createTrainingJob` or `create_training_job` -> `CreateTrainingJob`."""
    names = _service_model(service).operation_names
    if operation in names:
        return operation
    wanted = operation.replace("_", "").lower()
    for name in names:
        if name.lower() == wanted:
            return name
    raise ValueError(f"{service} has no operation {operation!r}")


class _Operation:
    """Everything checked for one operation, compiled once."""

    def __init__(self, service: str, operation: str, botocore_checked: bool) -> None:
        model = _service_model(service).operation_model(operation)
        self.service = service
        self.name = model.name
        self.code = _model_error_code(service)
        self.plan = None
        if service not in _NO_MODEL_CHECKS and model.input_shape is not None:
            self.plan = _Compiler(service, botocore_checked).plan(model.input_shape)
        self.early = _EARLY_RULES.get((service, model.name), [])
        self.rules = _rules(service, model)

    def raw(self, params: dict) -> list[_Raw]:
        found: list[_Raw] = []
        if self.plan is not None:
            self.plan.check(params, None, found)
        return found

    def model_violations(self, params: dict) -> list[Violation]:
        return [self._violation(raw) for raw in self.raw(params)]

    def _violation(self, raw: _Raw) -> Violation:
        path, value, phrase, sensitive, type_name = raw
        rendered = _render_path(path)
        if sensitive and value is not None:
            subject = "Value"
        elif value is None:
            subject = "Value null"
        else:
            subject = f"Value '{_render(value, type_name)}'"
        return Violation(
            code=self.code,
            message=f"{subject} at '{rendered}' failed to satisfy constraint: {phrase}",
            path=rendered,
            constraint=phrase,
        )

    def errors(self, params: dict) -> list[Violation]:
        found = [v for rule in self.early for v in rule(params)]
        found += self.model_violations(params)
        found += [v for rule in self.rules for v in rule(params)]
        return found

    def rejection(self, params: dict) -> RequestRejected | None:
        for rule in self.early:
            for violation in rule(params):
                return self._rejected(violation)
        raw = self.raw(params)
        if raw:
            shown = tuple(self._violation(r) for r in raw[:MAX_REPORTED])
            count = len(shown)
            message = f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(
                v.message for v in shown
            )
            return RequestRejected(self.service, self.name, self.code, message, 400, shown)
        for rule in self.rules:
            for violation in rule(params):
                return self._rejected(violation)
        return None

    def _rejected(self, violation: Violation) -> RequestRejected:
        return RequestRejected(
            self.service,
            self.name,
            violation.code,
            violation.message,
            violation.status,
            (violation,),
            violation.extra,
        )


_operations: dict[tuple[str, str, bool], _Operation] = {}
_operations_lock = threading.Lock()


def _operation(service: str, operation: str, botocore_checked: bool) -> _Operation:
    key = (service, operation, botocore_checked)
    found = _operations.get(key)
    if found is None:
        with _operations_lock:
            found = _operations.get(key)
            if found is None:
                name = _ALIASES.get(service, service)
                found = _Operation(name, _operation_name(name, operation), botocore_checked)
                _operations[key] = found
    return found


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def check(
    service: str, operation: str, params: dict, *, botocore_checked: bool = True
) -> RequestRejected | None:
    """The error AWS would answer this request with (None if it would accept it as far as this
    module knows). `service` is botocore's service name ("sagemaker", "stepfunctions"...),
    `operation` the API name ("CreateTrainingJob"; "createTrainingJob" and "create_training_job"
    work too), `params` the request as given to a boto3 client.

    `botocore_checked=False` is for requests that did not go through a botocore client (a Step
    Functions service integration's Parameters): it adds the model checks botocore makes
    client-side and AWS repeats (required members as "Member must not be null", the `min` of
    strings, lists and numbers). Types and unknown members are still botocore's to report."""
    return _operation(service, operation, botocore_checked).rejection(params)


def validate(service: str, operation: str, params: dict, *, botocore_checked: bool = True) -> None:
    """Raise RequestRejected with AWS's error if AWS would reject the request (see `check`)."""
    rejected = check(service, operation, params, botocore_checked=botocore_checked)
    if rejected is not None:
        raise rejected


def errors(service: str, operation: str, params: dict, *, botocore_checked: bool = True) -> list[Violation]:
    """Every violation in the request, not only those AWS's one error would show: model
    constraints (all of them, not the first 10) then service rules (all, not the first)."""
    return _operation(service, operation, botocore_checked).errors(params)
