"""Every threshold and rule of entity resolution, in one pydantic model.

The defaults were chosen on the gold mention clusters of Re-DocRED dev (see
``benchmarks/resolve_quality.py``) and favour precision: a wrong merge fuses two
things into one node, which is harder to notice and undo than a missed one.

Type phrases are compared case-insensitively with whitespace collapsed, so
``"Person"`` and ``"person"`` are the same type here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

# Default word lists (whitespace-separated; the config holds them as lists).
_HONORIFICS = """
mr mrs ms miss mx dr prof professor sir dame lord lady rev reverend hon sen senator rep
gov governor pres president gen general col colonel capt captain lt maj major sgt adm
admiral judge justice herr frau mme mlle sra srta dott
"""
_CORPORATE_SUFFIXES = """
inc incorporated ltd limited corp corporation co llc plc gmbh ag sa nv bv ab oy oyj spa
srl sarl pty lp llp kg kgaa as asa se bhd kk pte
"""
_STOPWORDS = """
of the and for in on at de del la le du des der von van y e
"""
_LITERAL_TYPES = """
date time year number num money percent quantity ordinal cardinal duration
"""


def type_key(label: str) -> str:
    """How type phrases are compared: casefolded, whitespace collapsed."""
    return " ".join(label.casefold().split())


class ResolverConfig(BaseModel):
    """Rules and thresholds of :class:`~kgbuild.resolve.EntityResolver`.

    Scores are rapidfuzz scores on the normalized keys, from 0 to 100.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- normalization -------------------------------------------------------
    honorifics: list[str] = Field(
        default_factory=lambda: _HONORIFICS.split(),
        description="Titles dropped from the front of a person name's key (kept as aliases).",
    )
    corporate_suffixes: list[str] = Field(
        default_factory=lambda: _CORPORATE_SUFFIXES.split(),
        description="Legal-form suffixes dropped from the end of a non-person name's key "
        "(kept as aliases).",
    )
    name_suffixes: list[str] = Field(
        default_factory=lambda: ["jr", "sr", "ii", "iii", "iv", "phd", "md", "esq"],
        description=(
            "Generational/degree suffixes of person names. Kept in the key (King Jr. and "
            "King Sr. are different people) but skipped when picking the last name."
        ),
    )
    articles: list[str] = Field(
        default_factory=lambda: ["the"],
        description="Leading articles dropped from a name's key ('The Killers' ~ 'Killers').",
    )
    stopwords: list[str] = Field(
        default_factory=lambda: _STOPWORDS.split(),
        description="Words skipped when building acronyms and never a partial match alone.",
    )
    fold_accents: bool = Field(
        default=True, description="Drop accents of Latin letters in keys ('María' ~ 'Maria')."
    )

    # --- type groups ------------------------------------------------------------
    person_types: list[str] = Field(
        default_factory=lambda: ["person", "per", "people", "human"],
        description="Types whose names get first/last-name and initials rules.",
    )
    literal_types: list[str] = Field(
        default_factory=lambda: _LITERAL_TYPES.split(),
        description="Types matched only by identical normalized text (1990 is not 1991).",
    )
    compatible_types: list[tuple[str, str]] = Field(
        default_factory=list,
        description=(
            "Type pairs allowed to merge (e.g. ('organization', 'company')). By default "
            "mentions of different types never merge."
        ),
    )

    # --- within-document rules ---------------------------------------------------
    fuzzy_threshold: float = Field(
        default=90.0,
        ge=0,
        le=100,
        description="rapidfuzz ratio of two normalized names at or above which they merge.",
    )
    within_doc_all_pairs: int = Field(
        default=300,
        ge=0,
        description="Documents with up to this many distinct names compare them all pairwise "
        "for fuzzy matches (in C); larger ones rely on blocking keys alone.",
    )
    fuzzy_min_length: int = Field(
        default=8, ge=1, description="Both keys need this many characters for a fuzzy merge."
    )
    match_last_name: bool = Field(
        default=True, description="'Obama' joins 'Barack Obama' when unambiguous in the document."
    )
    last_name_subject: int | None = Field(
        default=80,
        ge=0,
        description="A surname that fits several people of the document ('Piccard' beside "
        "Franck, Leila and Ian Piccard) joins the document's subject, the person named "
        "first, when the subject is one of them, has as many mentions as each of the others "
        "and was named at least this many characters before each (introduced first, not in "
        "one breath: in 'Barack Obama and Michelle Obama arrived. Obama waved.' Obama stays "
        "apart). None: such a surname always stays apart. On Re-DocRED dev: within-document "
        "B3 recall 0.9373 -> 0.9391, precision 0.98772 -> 0.98732.",
    )
    match_double_surname: bool = Field(
        default=True,
        description="A lone word that is the second-to-last name of the document's subject "
        "(the person named first, with three or more names) joins them when no other person "
        "of the document has that word in their name: the first of two surnames, 'Endara' "
        "-> 'Guillermo David Endara Galimany'. On Re-DocRED dev: 3 joins, all right; "
        "within-document B3 recall 0.93902 -> 0.93934, precision unchanged.",
    )
    match_first_name: bool = Field(
        default=False,
        description="'Barack' joins 'Barack Obama' when unambiguous in the document. Off by "
        "default: on Re-DocRED a lone first name was another person 17 times in 38.",
    )
    match_initials: bool = Field(
        default=True,
        description="'J. H. Dearle' ~ 'John Henry Dearle' ~ 'John Dearle' (same last name).",
    )
    match_partial: bool = Field(
        default=True,
        description=(
            "A non-person name whose tokens are the start or end of a longer name of the "
            "same type joins it when unambiguous ('Fyllingen' ~ 'Fyllingen Fotball')."
        ),
    )
    partial_types: list[str] | None = Field(
        default_factory=lambda: ["organization", "organisation", "org", "company"],
        description="Types the partial rule applies to (None: every non-literal, non-person "
        "type). Not locations by default: 'Albany' is not 'Albany County', 'Tokyo' not "
        "'Tokyo Imperial Palace' (on Re-DocRED the rule was wrong 132 times in 160 there).",
    )
    partial_compounds_apart: bool = Field(
        default=True,
        description="The partial rule leaves the parts of a compound name apart: a long "
        "name whose first and last words are both names of the document ('University of "
        "Pennsylvania' and 'Annenberg School of Communications' beside 'University of "
        "Pennsylvania's Annenberg School of Communications') takes neither, and the last "
        "words of a name that is itself the start of a longer one ('Enix' of 'Square Enix' "
        "beside 'Square Enix Europe') do not join it. On Re-DocRED dev: within-document B3 "
        "precision 0.98732 -> 0.98795, recall 0.93906 -> 0.93902; cross-document proxy "
        "precision 0.95801 -> 0.95832, recall 0.99262 -> 0.99272.",
    )
    match_acronym: bool = Field(
        default=True,
        description="'IBM' joins 'International Business Machines' when unambiguous.",
    )
    min_acronym_length: int = Field(default=2, ge=2)

    # --- across documents and runs ------------------------------------------------
    link_across_documents: bool = Field(
        default=True, description="Link to entities of earlier documents and of the store."
    )
    cross_doc_fuzzy_threshold: float = Field(
        default=92.0,
        ge=0,
        le=100,
        description="Fuzzy threshold for linking to an existing entity (stricter: no context).",
    )
    cross_doc_acronyms: bool = Field(
        default=True,
        description="Link an acronym to the one existing entity whose full name it "
        "abbreviates (never the other way round: a long name does not link to an entity "
        "only known by an acronym).",
    )
    cross_doc_min_acronym_length: int = Field(
        default=3,
        ge=2,
        description="Shorter acronyms ('EP', 'MP', 'SS') are too ambiguous to link without "
        "the document's context.",
    )
    link_short_names: bool = Field(
        default=True,
        description="A person name alone in a document ('Holmes') links to the one existing "
        "person whose short form it was in another document ('Sherlock Holmes' ... 'Holmes').",
    )
    link_short_forms: bool = Field(
        default=True,
        description="A short form alone in a document links to the one existing entity of its "
        "type whose full name it abbreviates, though no document joined the two yet: a bare "
        "surname ('Curie' -> 'Marie Curie'), or the first words of an organization name "
        "without its legal suffix ('Nordwind' -> 'Nordwind Energie GmbH'; only for "
        "partial_types). Two or more such entities: no link, and the explanation says so.",
    )
    store_short_forms: bool = Field(
        default=True,
        description="Also ask the store for the full names a short form may abbreviate "
        "(entities of earlier runs, found by the l:/h: key their mentions keep as "
        "short_key), so that 'Nordwind' in a later run links to 'Nordwind Energie GmbH' "
        "under the same evidence rules as within one run.",
    )
    store_blocking_keys: bool = Field(
        default=False,
        description="Also ask the store (entities of earlier runs) for names that share a "
        "blocking key (reordered words, typos, first + last name, acronyms), not only for "
        "the same name or the full names a short form abbreviates (those always). Off by "
        "default: on Neo4j such a lookup is a pass over all entities (no server indexes "
        "list elements), and on Re-DocRED dev these rules "
        "made 2 of about 2,600 cross-document links. Entities of the same run always are.",
    )
    short_form_min_context: int = Field(
        default=2,
        ge=0,
        description="A cross-document short-form link needs this many other entities (not "
        "dates or numbers) that the document links to and that share a document of this run "
        "with the candidate: 'Taylor' joins 'Cecil Taylor' only in a related document. On "
        "Re-DocRED dev, 1 also linked 'Taylor' and 'Blake' to people of unrelated articles.",
    )
    short_form_neighbours: bool = Field(
        default=True,
        description="A cross-document short-form link also holds when the document relates "
        "the short form to an entity that a relation of an earlier document of this run ties "
        "to the candidate (a shared neighbour: 'the founder of Nordwind, Klaus Vogel' -> "
        "'Nordwind Energie GmbH', founded by Klaus Vogel), however little else the documents "
        "share. The candidate must still be the only entity the short form abbreviates.",
    )
    max_block_size: int = Field(
        default=100,
        ge=1,
        description=(
            "A blocking key shared by more entities than this is too common to compare "
            "against (e.g. the surname 'smith'); exact name keys are never skipped."
        ),
    )
    max_candidates: int = Field(
        default=200, ge=1, description="At most this many existing entities are scored per name."
    )

    _pairs: frozenset[tuple[str, str]] = PrivateAttr(default=frozenset())

    @field_validator(
        "honorifics",
        "corporate_suffixes",
        "name_suffixes",
        "articles",
        "stopwords",
        "person_types",
        "literal_types",
    )
    @classmethod
    def _fold(cls, v: list[str]) -> list[str]:
        return [type_key(x) for x in v]

    @field_validator("compatible_types")
    @classmethod
    def _fold_pairs(cls, v: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(type_key(a), type_key(b)) for a, b in v]

    def model_post_init(self, __context: object) -> None:
        pairs = {(a, b) for a, b in self.compatible_types}
        self._pairs = frozenset(pairs | {(b, a) for a, b in pairs})

    def types_compatible(self, a: str, b: str) -> bool:
        """Whether mentions typed ``a`` and ``b`` (type keys) may be one entity."""
        return a == b or (a, b) in self._pairs
