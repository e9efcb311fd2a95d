"""Themes of free-text answers: what customers talk about, grouped from the answers' own sentence vectors.

Frozen multilingual vectors group by language before topic, so each language's mean vector is subtracted
(and the rows re-normalised) before anything compares them: an English and a Spanish answer about the same
late parcel then land together without translation. Declared themes (from the config) take the answers
close enough to one of their example phrases; the rest is grouped by k-means with the number of themes
chosen by silhouette, named by c-TF-IDF over both languages' words (stop words of both removed), and
represented by the answer nearest the theme's centre. scikit-learn does the clustering; nothing here
clusters by hand.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sentiment.vectors import normalised

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

# Function words of both languages (plus CX filler) never name a theme. Accents are folded before lookup.
_SPANISH = """
    a al algo algun alguna algunas alguno algunos ante antes aqui asi aun aunque bien cada casi como con
    contra cual cuales cuando de del desde donde dos el ella ellas ellos en entre era eran es esa esas ese
    eso esos esta estaba estaban estado estan estar este esto estos estoy fue fueron fui ha habia han has
    hasta hay he hemos hoy la las le les lo los mas me mi mis mucho muchos muy nada ni no nos nosotros nunca
    o os otra otro para pero poco por porque que quien se sea ser si sido sin sobre solo son soy su sus
    tambien tan tanto te tenia tengo ti tiene tienen todo todos tu tus un una unas uno unos usted ustedes va
    vez y ya yo muy ahora luego despues otra vez dia dias cosa veces mio mia ser hacer hizo hace
    """
SPANISH_STOP_WORDS = frozenset(_SPANISH.split())
_FILLER = """
    really just got get like would could also still ok okay yes thanks thank please one two time times
    gracias vale pues bueno
    """
FILLER_WORDS = frozenset(_FILLER.split())

_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)


def fold(text: str) -> str:
    """Lower case without accents ("Atención" -> "atencion"), so both spellings count as one word."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | SPANISH_STOP_WORDS | FILLER_WORDS


@dataclass(frozen=True, slots=True)
class DeclaredTheme:
    """A theme the company names itself: key, names per language and example phrases per language."""

    key: str
    names: Mapping[str, str]
    examples: Mapping[str, Sequence[str]]


@dataclass(frozen=True, slots=True)
class Theme:
    """One theme found in a set of answers: *members* are row indices into the input."""

    key: str
    kind: str  # 'declared' or 'discovered'
    names: dict[str, str]
    words: list[str]
    members: list[int]
    representative: int | None
    # The members' mean in the language-centred space (unit length): how a later run recognises the theme.
    centroid: FloatArray | None = field(default=None, compare=False, repr=False)

    def name(self, language: str = "en") -> str:
        return self.names.get(language) or self.names.get("en") or next(iter(self.names.values()), self.key)


@dataclass(frozen=True, slots=True)
class ThemeSettings:
    """The knobs of grouping; the defaults were measured on sentiment/data/themes_cx.csv."""

    # Cosine (after per-language centring) to the nearest example phrase for a declared theme to take it.
    declared_threshold: float = 0.30
    max_themes: int = 12
    min_theme_size: int = 3
    # Silhouette and the k search run on a sample of at most this many answers (bounded time and memory).
    sample_size: int = 1500
    seed: int = 17
    words_per_theme: int = 3
    # A discovered theme keeps the key of an earlier run's theme whose centroid is at least this close (and
    # closer by known_margin than the next one); else its key comes from its words. Measured on halves of our
    # set: matching themes 0.4-0.9, the next best 0.1-0.4.
    known_similarity: float = 0.40
    known_margin: float = 0.10


@dataclass(frozen=True, slots=True)
class Grouping:
    """Themes largest first, and each row's theme key (None: fits no theme, or too little to group)."""

    themes: list[Theme]
    assignment: list[str | None] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LanguageFrame:
    """How one language's vectors are centred: its mean, and per-dimension spread (1 where too few rows)."""

    mean: FloatArray
    scale: FloatArray

    def apply(self, unit: FloatArray) -> FloatArray:
        return np.asarray((unit - self.mean) / self.scale, dtype=np.float32)


# Below this many answers a language's per-dimension spread is noise: only its mean is subtracted.
MIN_ROWS_FOR_SCALE = 20


def centre_by_language(
    vectors: FloatArray, languages: Sequence[str | None]
) -> tuple[FloatArray, dict[str, LanguageFrame]]:
    """Standardise each language's vectors (subtract its mean, divide by its per-dimension spread) and
    re-normalise. Mean subtraction alone took ARI from 0.07 to 0.35 on e5; the spread as well lifted our
    set from 0.68 to 0.72 (docs/themes.md)."""
    unit = normalised(np.asarray(vectors, dtype=np.float32))  # the one copy; centred in place below
    keys = np.asarray([_lang(language) for language in languages])
    frames: dict[str, LanguageFrame] = {}
    for language in sorted(set(keys.tolist())):
        rows = np.flatnonzero(keys == language)
        mean = np.asarray(unit[rows].mean(axis=0), dtype=np.float32)
        if len(rows) >= MIN_ROWS_FOR_SCALE:
            scale = np.asarray(unit[rows].std(axis=0) + 1e-3, dtype=np.float32)
        else:
            scale = np.ones_like(mean)
        frames[language] = LanguageFrame(mean, scale)
        for start in range(0, len(rows), 8192):  # bounded temporaries
            chunk = rows[start : start + 8192]
            unit[chunk] = frames[language].apply(unit[chunk])
    norms = np.linalg.norm(unit, axis=1, keepdims=True)
    unit /= np.maximum(norms, 1e-12)
    return unit, frames


def _lang(language: str | None) -> str:
    return (language or "und").split("-")[0].lower()


def group_answers(
    texts: Sequence[str],
    languages: Sequence[str | None],
    vectors: FloatArray,
    *,
    declared: Sequence[DeclaredTheme] = (),
    declared_vectors: Mapping[str, Sequence[tuple[str, FloatArray]]] | None = None,
    known: Sequence[tuple[str, FloatArray]] = (),
    settings: ThemeSettings | None = None,
) -> Grouping:
    """Group answers into declared then discovered themes.

    *declared_vectors* maps a declared theme's key to (language, vector) of each of its example phrases,
    encoded by the same model as *vectors*. *known* holds (key, centroid) of earlier runs' discovered
    themes: a theme found again keeps its key, so "change vs the previous period" and the alert baseline
    follow it even when its telling words shift."""
    config = settings or ThemeSettings()
    count = len(texts)
    if count == 0:
        return Grouping([], [])
    if len(languages) != count or len(vectors) != count:
        raise ValueError("texts, languages and vectors must be equally long")
    centred, frames = centre_by_language(vectors, languages)
    assignment: list[str | None] = [None] * count
    themes: list[Theme] = []
    stop_words = _stop_words()

    if declared and declared_vectors:
        best, best_key = _nearest_declared(centred, frames, declared, declared_vectors)
        for theme in declared:
            members = [
                i for i in range(count) if best_key[i] == theme.key and best[i] >= config.declared_threshold
            ]
            for i in members:
                assignment[i] = theme.key
            if members:
                themes.append(
                    Theme(
                        key=theme.key,
                        kind="declared",
                        names=dict(theme.names),
                        words=[],
                        members=members,
                        representative=_representative(centred, members),
                    )
                )

    rest = np.asarray([i for i in range(count) if assignment[i] is None], dtype=np.int64)
    if rest.size >= 2 * config.min_theme_size:
        labels = _cluster(centred[rest], config)
        clusters: dict[int, list[int]] = {}
        for row, label in zip(rest.tolist(), labels.tolist(), strict=True):
            clusters.setdefault(int(label), []).append(int(row))
        kept = [members for members in clusters.values() if len(members) >= config.min_theme_size]
        words = _telling_words([[texts[i] for i in members] for members in kept], stop_words, config)
        centroids = [normalised(centred[members].mean(axis=0, keepdims=True))[0] for members in kept]
        taken = {theme.key for theme in themes}
        reused = _recognised(centroids, [(k, c) for k, c in known if k not in taken], config)
        taken |= set(reused.values())
        for index, (members, top) in enumerate(zip(kept, words, strict=True)):
            key = reused.get(index) or _unique_key("-".join(top[:2]) or "theme", taken)
            taken.add(key)
            for i in members:
                assignment[i] = key
            label = ", ".join(top) or key
            themes.append(
                Theme(
                    key=key,
                    kind="discovered",
                    names={"en": label, "es": label},
                    words=top,
                    members=sorted(members),
                    representative=_representative(centred, members),
                    centroid=centroids[index],
                )
            )
    # Declared themes get their words too (what customers actually say about them).
    declared_themes = [t for t in themes if t.kind == "declared"]
    if declared_themes:
        named = _telling_words([[texts[i] for i in t.members] for t in themes], stop_words, config)
        themes = [
            Theme(t.key, t.kind, t.names, named[j], t.members, t.representative)
            if t.kind == "declared"
            else t
            for j, t in enumerate(themes)
        ]
    themes.sort(key=lambda t: (-len(t.members), t.key))
    return Grouping(themes, assignment)


def _recognised(
    centroids: Sequence[FloatArray], known: Sequence[tuple[str, FloatArray]], config: ThemeSettings
) -> dict[int, str]:
    """Discovered theme index -> an earlier key, greedily by similarity, each key used once."""
    if not centroids or not known:
        return {}
    earlier = normalised(np.stack([np.asarray(c, dtype=np.float32) for _, c in known]))
    similarity = np.stack(centroids) @ earlier.T
    pairs = sorted(
        ((float(similarity[i, j]), i, j) for i in range(len(centroids)) for j in range(len(known))),
        reverse=True,
    )
    result: dict[int, str] = {}
    used: set[int] = set()
    for value, i, j in pairs:
        if value < config.known_similarity:
            break
        if i in result or j in used:
            continue
        others = [float(similarity[i, m]) for m in range(len(known)) if m != j]
        if others and value - max(others) < config.known_margin:
            continue
        result[i] = known[j][0]
        used.add(j)
    return result


def _nearest_declared(
    centred: FloatArray,
    frames: Mapping[str, LanguageFrame],
    declared: Sequence[DeclaredTheme],
    declared_vectors: Mapping[str, Sequence[tuple[str, FloatArray]]],
) -> tuple[FloatArray, list[str | None]]:
    """Per answer: the best cosine to any example phrase, and that phrase's theme."""
    overall = LanguageFrame(
        np.mean(np.stack([f.mean for f in frames.values()]), axis=0),
        np.mean(np.stack([f.scale for f in frames.values()]), axis=0),
    )
    examples: list[FloatArray] = []
    owners: list[str] = []
    for theme in declared:
        for language, vector in declared_vectors.get(theme.key, ()):
            unit = normalised(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
            examples.append(frames.get(_lang(language), overall).apply(unit))
            owners.append(theme.key)
    if not examples:
        return np.zeros(len(centred), dtype=np.float32), [None] * len(centred)
    matrix = normalised(np.stack(examples).astype(np.float32))
    similarity = centred @ matrix.T
    best_index = similarity.argmax(axis=1)
    best = similarity[np.arange(len(centred)), best_index].astype(np.float32)
    return best, [owners[int(j)] for j in best_index]


def _cluster(rows: FloatArray, config: ThemeSettings) -> IntArray:
    """Spectral clustering of a bounded sample, k chosen by cosine silhouette; every row then joins the
    nearest sample theme's centre.

    As sklearn's SpectralClustering (nearest-neighbour affinity, k-means on the spectral embedding), but the
    embedding is computed once for the largest k and each candidate k clusters its first k components: one
    eigen-decomposition instead of one per k. On our set spectral beat k-means and agglomerative at the k
    silhouette picks (ARI 0.72 vs 0.56-0.58 on e5, docs/themes.md); the sample bounds time and memory."""
    from sklearn.cluster import KMeans
    from sklearn.manifold import spectral_embedding
    from sklearn.metrics import silhouette_score
    from sklearn.neighbors import kneighbors_graph

    count = len(rows)
    rng = np.random.default_rng(config.seed)
    whole = count <= config.sample_size
    sample = rows if whole else rows[np.sort(rng.choice(count, config.sample_size, replace=False))]
    top = min(config.max_themes, len(sample) // config.min_theme_size, len(sample) - 1)
    if top < 2:
        return np.zeros(count, dtype=np.int64)
    # More neighbours on larger samples: near-duplicate answers must not split the graph into cliques.
    neighbours = min(max(10, round(len(sample) ** 0.5 / 2)), len(sample) - 1)
    maps: FloatArray | None = None
    if len(sample) >= 40:
        connectivity = kneighbors_graph(sample, n_neighbors=neighbours, include_self=True)
        affinity = 0.5 * (connectivity + connectivity.T)
        with warnings.catch_warnings():
            # A graph of a few well-separated themes is not connected: expected, harmless here.
            warnings.filterwarnings("ignore", message="Graph is not fully connected")
            maps = np.asarray(
                spectral_embedding(affinity, n_components=top, random_state=config.seed, drop_first=False),
                dtype=np.float32,
            )
    best_score, best_labels = -2.0, None
    for k in range(2, top + 1):
        features = maps[:, :k] if maps is not None else sample
        labels = np.asarray(
            KMeans(n_clusters=k, n_init=4, random_state=config.seed).fit_predict(features), dtype=np.int64
        )
        if len(set(labels.tolist())) < 2:
            continue
        score = float(silhouette_score(sample, labels, metric="cosine"))
        if score > best_score:
            best_score, best_labels = score, labels
    if best_labels is None:
        return np.zeros(count, dtype=np.int64)
    if whole:
        return best_labels
    found = sorted(set(best_labels.tolist()))
    centres = normalised(np.stack([sample[best_labels == label].mean(axis=0) for label in found]))
    nearest = np.empty(count, dtype=np.int64)
    for start in range(0, count, 8192):  # bounded memory: (8192 x themes) similarities at a time
        nearest[start : start + 8192] = np.argmax(rows[start : start + 8192] @ centres.T, axis=1)
    return np.asarray([found[j] for j in nearest.tolist()], dtype=np.int64)


def _representative(centred: FloatArray, members: Sequence[int]) -> int | None:
    """The member nearest the theme's centre: the one quote that speaks for it."""
    if not members:
        return None
    rows = centred[np.asarray(members)]
    centre = rows.mean(axis=0)
    return int(members[int(np.argmax(rows @ centre))])


def _telling_words(
    groups: Sequence[Sequence[str]], stop_words: frozenset[str], config: ThemeSettings
) -> list[list[str]]:
    """c-TF-IDF: a word's frequency in the theme, weighted by log(1 + average words per theme / its
    frequency over all themes); the top words of each theme, stop words of both languages removed."""
    if not groups:
        return []
    from sklearn.feature_extraction.text import CountVectorizer

    documents = [" ".join(fold(text) for text in group) for group in groups]

    def tokens(document: str) -> list[str]:
        return [word for word in _WORD.findall(document) if word not in stop_words]

    vectorizer = CountVectorizer(analyzer=tokens)
    try:
        counts = vectorizer.fit_transform(documents).toarray().astype(np.float64)
    except ValueError:  # no word survives (emoji only, numbers only)
        return [[] for _ in groups]
    vocabulary = vectorizer.get_feature_names_out()
    per_theme = counts.sum(axis=1, keepdims=True)
    tf = counts / np.maximum(per_theme, 1.0)
    average = float(per_theme.mean())
    idf = np.log1p(average / np.maximum(counts.sum(axis=0), 1.0))
    weights = tf * idf
    result: list[list[str]] = []
    for row in weights:
        order = np.argsort(-row, kind="stable")[: config.words_per_theme]
        result.append([str(vocabulary[j]) for j in order if row[j] > 0])
    return result


def _unique_key(base: str, taken: set[str]) -> str:
    key = re.sub(r"[^a-z0-9]+", "-", fold(base)).strip("-") or "theme"
    candidate, n = key, 2
    while candidate in taken:
        candidate, n = f"{key}-{n}", n + 1
    return candidate
