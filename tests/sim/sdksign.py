"""SDK-HMAC-SHA256 request signing (reference sms-api.md §7), Python 3 stdlib only.

Used by the simulator (to verify), by simctl/test_sim (to sign test requests) and by the
fake agent (to sign its heartbeats). It is written from the reference text alone and shares
nothing with the daemon's C signer, so the two check each other.

    canonical_uri("/v3/tasks/x")              -> "/v3/tasks/x/"
    canonical_query("b=2&a=1&a=0")            -> "a=0&a=1&b=2"
    canonical_request(method, path, query, headers, signed, body_sha256_hex)
    string_to_sign(sdk_date, canonical_request)
    signature(sk, string_to_sign)             -> lower-case hex
    sign(method, url, headers, body, ak, sk, sdk_date=None) -> headers with X-Sdk-Date, Authorization
    parse_authorization(value)                -> (ak, [signed headers], signature) or None
"""

import datetime
import hashlib
import hmac
import urllib.parse

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def encode(s):
    """Percent-encode everything but A-Za-z0-9-_.~, upper-case hex, over UTF-8 bytes."""
    if isinstance(s, str):
        s = s.encode("utf-8")
    return "".join(chr(b) if b in _UNRESERVED else "%%%02X" % b for b in s)


def canonical_uri(path):
    """Each segment decoded once then re-encoded; always ends with '/' (for signing only)."""
    segs = [encode(urllib.parse.unquote_to_bytes(seg)) for seg in path.split("/")]
    uri = "/".join(segs)
    if not uri.startswith("/"):
        uri = "/" + uri
    if not uri.endswith("/"):
        uri += "/"
    return uri


def parse_query(query):
    """Raw query string -> list of (key, value) decoded pairs ('+' is a space, as in forms)."""
    pairs = []
    if not query:
        return pairs
    for part in query.split("&"):
        if part == "":
            continue
        k, _, v = part.partition("=")
        pairs.append((urllib.parse.unquote_plus(k), urllib.parse.unquote_plus(v)))
    return pairs


def canonical_query(query):
    """query: raw string or list of (key, value). Sorted by the decoded key, then the decoded
    value (as the SDKs sort before encoding); one pair per value."""
    pairs = parse_query(query) if isinstance(query, str) else list(query)
    return "&".join("%s=%s" % (encode(k), encode(v)) for k, v in sorted(pairs))


def canonical_headers(headers, signed):
    """headers: dict lower-case name -> value. Each signed header as 'name:trimmed\\n'."""
    return "".join("%s:%s\n" % (name, headers[name].strip()) for name in signed)


def canonical_request(method, path, query, headers, signed, body_hash):
    return "\n".join([
        method.upper(),
        canonical_uri(path),
        canonical_query(query),
        canonical_headers(headers, signed),
        ";".join(signed),
        body_hash,
    ])


def string_to_sign(sdk_date, creq):
    return "%s\n%s\n%s" % (ALGORITHM, sdk_date,
                           hashlib.sha256(creq.encode("utf-8")).hexdigest())


def signature(sk, sts):
    return hmac.new(sk.encode("utf-8"), sts.encode("utf-8"), hashlib.sha256).hexdigest()


def body_sha256(body):
    return hashlib.sha256(body or b"").hexdigest()


def parse_authorization(value):
    """'SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex' -> (ak, [a, b], hex)."""
    if not value or not value.startswith(ALGORITHM + " "):
        return None
    fields = {}
    for part in value[len(ALGORITHM) + 1:].split(","):
        k, eq, v = part.strip().partition("=")
        if not eq:
            return None
        fields[k] = v
    try:
        ak, sh, sig = fields["Access"], fields["SignedHeaders"], fields["Signature"]
    except KeyError:
        return None
    if not ak or not sh or not sig:
        return None
    return ak, sh.split(";"), sig


def sdk_date_now(offset_seconds=0.0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)
    return t.strftime(DATE_FORMAT)


def sign(method, url, headers, body, ak, sk, sdk_date=None):
    """Return a new header dict with X-Sdk-Date and Authorization, signing every header given
    (plus Host, taken from the URL when absent). body: bytes or None."""
    u = urllib.parse.urlsplit(url)
    hdrs = dict(headers or {})
    lower = {k.lower(): v for k, v in hdrs.items()}
    if "host" not in lower:
        hdrs["Host"] = u.netloc
        lower["host"] = u.netloc
    if "x-sdk-date" not in lower:
        sdk_date = sdk_date or sdk_date_now()
        hdrs["X-Sdk-Date"] = sdk_date
        lower["x-sdk-date"] = sdk_date
    sdk_date = lower["x-sdk-date"]
    signed = sorted(k for k in lower if "_" not in k and k != "authorization")
    bh = lower.get("x-sdk-content-sha256") or body_sha256(body)
    creq = canonical_request(method, u.path or "/", u.query, lower, signed, bh)
    sig = signature(sk, string_to_sign(sdk_date, creq))
    hdrs["Authorization"] = "%s Access=%s, SignedHeaders=%s, Signature=%s" % (
        ALGORITHM, ak, ";".join(signed), sig)
    return hdrs
