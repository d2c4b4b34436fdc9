"""The labelled prompt pairs of ``make eval-cache`` (docs/semantic-cache.md).

Built from templates with a fixed seed, so the set is the same on every run; written
to ``bench/results/semantic_pairs.jsonl`` by the eval for inspection. Classes:

- ``paraphrase`` (should hit): the same request in different words — question frames
  swapped, politeness, word order, synonyms of the verb, articles, punctuation, case;
- must miss: ``negation`` (not / n't / never / without added), ``antonym`` (the
  verb or adjective replaced by its opposite, often in a *different* frame, so the
  rest of the wording differs too), ``number`` (a count, size, time or amount changed,
  digits or words), ``entity`` (a place, product, person or language replaced, or two
  of them swapped), ``identifier`` (a function, flag, file or variable renamed,
  often by one character), ``quoted`` (the quoted text changed).

Each must-miss pair keeps everything else the same, which is what makes them hard:
they are the near-duplicates an embedding scores highest.
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["CLASSES", "MUST_MISS", "large", "pairs"]

CLASSES = ("paraphrase", "negation", "antonym", "number", "entity", "identifier", "quoted")
MUST_MISS = CLASSES[1:]

_TOOLS = ["VS Code", "Git", "Docker", "Kubernetes", "PostgreSQL", "Slack", "Chrome", "Excel",
          "Jira", "Terraform", "Nginx", "Django", "React", "Windows 11", "macOS", "Ubuntu",
          "Outlook", "Zoom", "Figma", "Jenkins"]
_VERB_OBJECTS = [
    ("enable", "disable", "dark mode"), ("enable", "disable", "two-factor authentication"),
    ("enable", "disable", "auto-save"), ("turn on", "turn off", "notifications"),
    ("show", "hide", "the sidebar"), ("add", "remove", "a user"), ("install", "uninstall",
                                                                  "an extension"),
    ("lock", "unlock", "the screen"), ("import", "export", "my settings"),
    ("upload", "download", "a file"), ("encrypt", "decrypt", "the database"),
    ("start", "stop", "the server"), ("increase", "decrease", "the font size"),
    ("open", "close", "a port"), ("allow", "block", "pop-ups"), ("compress", "decompress",
                                                                 "the logs"),
    ("connect", "disconnect", "a remote"), ("mount", "unmount", "a volume"),
    ("subscribe", "unsubscribe", "a channel"), ("upgrade", "downgrade", "the version"),
]
_FRAMES = [
    ("How do I {v} {o} in {t}?", "How can I {v} {o} in {t}?"),
    ("How do I {v} {o} in {t}?", "What's the way to {v} {o} in {t}?"),
    ("How do I {v} {o} in {t}?", "how do i {v} {o} in {t}"),
    ("How do I {v} {o} in {t}?", "In {t}, how do I {v} {o}?"),
    ("How do I {v} {o} in {t}?", "Please tell me how to {v} {o} in {t}."),
    ("How do I {v} {o} in {t}?", "Steps to {v} {o} in {t}?"),
    ("How do I {v} {o} in {t}?", "Can you explain how to {v} {o} in {t}?"),
    ("How do I {v} {o} in {t}?", "I want to {v} {o} in {t}. How?"),
    ("What is the best way to {v} {o} in {t}?", "What's the recommended way to {v} {o} in {t}?"),
    ("Show me how to {v} {o} in {t}.", "Walk me through how to {v} {o} in {t}."),
]
_FACTS = [
    ("What is the capital of {e}?", "Tell me the capital city of {e}.",
     ["France", "Germany", "Spain", "Italy", "Japan", "Canada", "Brazil", "Kenya", "Norway",
      "Peru", "Egypt", "India", "Chile", "Poland", "Vietnam"]),
    ("Who founded {e}?", "Who was the founder of {e}?",
     ["Microsoft", "Apple", "Amazon", "Tesla", "Netflix", "Spotify", "Airbnb", "Stripe",
      "Nvidia", "Oracle", "Intel", "Samsung", "Sony", "Toyota", "IKEA"]),
    ("Translate 'good morning' into {e}.", "How do you say 'good morning' in {e}?",
     ["French", "German", "Spanish", "Italian", "Japanese", "Korean", "Polish", "Dutch",
      "Swedish", "Turkish", "Greek", "Hindi", "Portuguese", "Czech", "Finnish"]),
    ("What is the population of {e}?", "How many people live in {e}?",
     ["Tokyo", "Paris", "London", "Berlin", "Madrid", "Rome", "Cairo", "Lagos", "Lima",
      "Seoul", "Toronto", "Sydney", "Mumbai", "Oslo", "Dublin"]),
]
_NUMBERS = [
    ("Set the timeout to {n} seconds in {t}.", "Configure a {n} second timeout in {t}."),
    ("Retry the request {n} times.", "Retry that request {n} times."),
    ("Write a poem with {n} lines about the sea.", "Write a {n}-line poem about the sea."),
    ("What is {n} plus 17?", "What's {n} + 17?"),
    ("Convert {n} miles to kilometres.", "How many kilometres is {n} miles?"),
    ("Give me {n} ideas for a birthday party.", "Suggest {n} birthday party ideas."),
    ("Resize the image to {n} pixels wide.", "Make the image {n} pixels wide."),
    ("Split the list into chunks of {n} items.", "Chunk the list into groups of {n} items."),
    ("What was the weather like in {n}?", "How was the weather in {n}?"),
    ("Summarise the article in {n} words.", "Give a {n}-word summary of the article."),
]
_NUMBER_WORDS = {3: "three", 5: "five", 7: "seven", 10: "ten", 12: "twelve", 20: "twenty"}
_NEGATIONS = [
    ("Why does {t} crash on startup?", "Why does {t} not crash on startup?"),
    ("Should I use {t} for this project?", "Should I not use {t} for this project?"),
    ("Is {t} free for commercial use?", "Is {t} not free for commercial use?"),
    ("Can {t} run on a Raspberry Pi?", "Can't {t} run on a Raspberry Pi?"),
    ("Why is {t} using so much memory?", "Why isn't {t} using much memory?"),
    ("List tools that work with {t}.", "List tools that don't work with {t}."),
    ("How do I install {t} with admin rights?", "How do I install {t} without admin rights?"),
    ("Does {t} support SSO?", "Does {t} never support SSO?"),
    ("Explain why {t} is secure.", "Explain why {t} is not secure."),
    ("What happens if I update {t}?", "What happens if I never update {t}?"),
]
_ADJ_ANTONYMS = [
    ("What is the fastest way to learn {t}?", "What is the slowest way to learn {t}?"),
    ("Sort the results in ascending order in {t}.", "Sort the results in descending order in {t}."),
    ("What are the advantages of {t}?", "What are the disadvantages of {t}?"),
    ("Convert the text to uppercase in {t}.", "Convert the text to lowercase in {t}."),
    ("Find the largest file in {t}.", "Find the smallest file in {t}."),
]
_IDENTIFIERS = [
    ("Why does `{a}` raise a KeyError?", "Why does `{b}` raise a KeyError?"),
    ("What does the {a} flag do?", "What does the {b} flag do?"),
    ("Explain what {a} does in this code.", "Explain what {b} does in this code."),
    ("Rename the variable {a} to total.", "Rename the variable {b} to total."),
    ("Why can't Python find {a}?", "Why can't Python find {b}?"),
]
_IDENT_PAIRS = [
    ("parse_args", "parse_argv"), ("load_config", "load_configs"), ("getUser", "getUsers"),
    ("--force", "--forced"), ("--dry-run", "--run"), ("os.path.join", "os.path.split"),
    ("user_id", "user_ids"), ("main.py", "mains.py"), ("setup.cfg", "setup.py"),
    ("fetchData()", "fetchDatum()"), ("max_retries", "min_retries"), ("np.array", "np.asarray"),
    ("handle_request", "handle_response"), ("isValid", "isInvalid"), ("--verbose", "--quiet"),
    ("read_csv", "read_json"), ("df.merge", "df.join"), ("config.yaml", "config.yml"),
    ("tmp_dir", "tmp_path"), ("AuthError", "AuthErrors"),
]
_QUOTED = [
    ("Translate '{a}' into French.", "Translate '{b}' into French."),
    ('What does "{a}" mean?', 'What does "{b}" mean?'),
    ("Search the logs for '{a}'.", "Search the logs for '{b}'."),
    ('Is "{a}" a good title for my blog?', 'Is "{b}" a good title for my blog?'),
]
_QUOTE_PAIRS = [
    ("good morning", "good night"), ("see you soon", "see you later"),
    ("connection refused", "connection reset"), ("out of memory", "out of disk"),
    ("carpe diem", "carpe noctem"), ("hello world", "goodbye world"),
    ("the quick fix", "the quick guide"), ("access denied", "access granted"),
    ("to be or not", "to be or be"), ("break a leg", "break a record"),
]


def large(seed: int = 20261205, per_class: int = 4000) -> list[dict[str, Any]]:
    """Up to ``per_class`` must-miss pairs for the classes whose templates allow that many
    distinct pairs (antonym, number, entity): the tight bound on the false-hit rate."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    antonyms = [(f1.format(v=v, o=o, t=t), f2.format(v=anti, o=o, t=t))
                for v, anti, o in _VERB_OBJECTS for t in _TOOLS
                for a_frame, b_frame in _FRAMES for f1, f2 in ((a_frame, a_frame),
                                                              (a_frame, b_frame))]
    numbers = []
    for a_frame, b_frame in _NUMBERS:
        for n in range(1, 200):
            for m in (n + 1, n * 2, n + 10):
                t = _TOOLS[(n + m) % len(_TOOLS)]
                numbers.append((a_frame.format(n=n, t=t), b_frame.format(n=m, t=t)))
    entities = [(a_frame.format(e=e), frame.format(e=f))
                for a_frame, b_frame, names in _FACTS for e in names for f in names if e != f
                for frame in (a_frame, b_frame)]
    entities += [(f"Book a flight from {x} to {y}.", f"Book a flight from {y} to {x}.")
                 for x in _FACTS[3][2] for y in _FACTS[3][2] if x != y]
    for cls, found in (("antonym", antonyms), ("number", numbers), ("entity", entities)):
        for a, b in rng.sample(found, min(per_class, len(found))):
            out.append({"class": cls, "a": a, "b": b})
    return out


def pairs(seed: int = 20261204) -> list[dict[str, Any]]:
    """Every labelled pair: ``{"class", "a", "b"}``; deterministic for a seed."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []

    def add(cls: str, a: str, b: str) -> None:
        out.append({"class": cls, "a": a, "b": b})

    # paraphrases: every frame x a sample of verb/object/tool, both polarities
    for a_frame, b_frame in _FRAMES:
        for v, anti, o in rng.sample(_VERB_OBJECTS, 8):
            t = rng.choice(_TOOLS)
            verb = rng.choice((v, anti))
            add("paraphrase", a_frame.format(v=verb, o=o, t=t), b_frame.format(v=verb, o=o, t=t))
    for a_frame, b_frame, entities in _FACTS:
        for e in rng.sample(entities, 8):
            add("paraphrase", a_frame.format(e=e), b_frame.format(e=e))
    for a_frame, b_frame in _NUMBERS:
        for n in rng.sample(sorted(_NUMBER_WORDS), 2):
            t = rng.choice(_TOOLS)
            add("paraphrase", a_frame.format(n=n, t=t), b_frame.format(n=n, t=t))
    # antonyms: the opposite verb, in the same frame and in a paraphrased one
    for v, anti, o in _VERB_OBJECTS:
        for t in rng.sample(_TOOLS, 3):
            a_frame, b_frame = rng.choice(_FRAMES)
            add("antonym", a_frame.format(v=v, o=o, t=t), a_frame.format(v=anti, o=o, t=t))
            add("antonym", a_frame.format(v=v, o=o, t=t), b_frame.format(v=anti, o=o, t=t))
    for a_frame, b_frame in _ADJ_ANTONYMS:
        for t in rng.sample(_TOOLS, 4):
            add("antonym", a_frame.format(t=t), b_frame.format(t=t))
    # negations
    for a_frame, b_frame in _NEGATIONS:
        for t in rng.sample(_TOOLS, 10):
            add("negation", a_frame.format(t=t), b_frame.format(t=t))
    # numbers: digits and words, near and far values
    for a_frame, b_frame in _NUMBERS:
        for _ in range(10):
            n = rng.choice(sorted(_NUMBER_WORDS))
            m = rng.choice([n + 1, n - 1, n * 2, n + 10, 2026 if n == 20 else n + 2])
            t = rng.choice(_TOOLS)
            shown_n = _NUMBER_WORDS[n] if rng.random() < 0.3 else str(n)
            frame = rng.choice((a_frame, b_frame))
            add("number", a_frame.format(n=shown_n, t=t), frame.format(n=m, t=t))
    # entities: replaced, and swapped
    for a_frame, b_frame, entities in _FACTS:
        for _ in range(20):
            e, f = rng.sample(entities, 2)
            add("entity", a_frame.format(e=e), rng.choice((a_frame, b_frame)).format(e=f))
    for _ in range(20):
        x, y = rng.sample(_FACTS[3][2], 2)
        add("entity", f"Book a flight from {x} to {y}.", f"Book a flight from {y} to {x}.")
    # identifiers
    for a_frame, b_frame in _IDENTIFIERS:
        for a, b in rng.sample(_IDENT_PAIRS, 20):
            add("identifier", a_frame.format(a=a, b=b), b_frame.format(a=a, b=b))
    # quoted strings
    for a_frame, b_frame in _QUOTED:
        for a, b in _QUOTE_PAIRS:
            add("quoted", a_frame.format(a=a, b=b), b_frame.format(a=a, b=b))
    return out
