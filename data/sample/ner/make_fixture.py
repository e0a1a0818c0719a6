"""Writes train.txt, dev.txt and test.txt: a small template-generated NER fixture in CoNLL `word tag` (BIO) form.

Not real annotated text: every sentence is one of the templates below with its slots
filled from the name lists below, all written for this fixture. The output is the same
on every run (seeded, no other input):

    python data/sample/ner/make_fixture.py            # rewrites the three files beside it

To test more than memorisation, about a third of each name list and a few templates are
held out of train.txt and appear only in dev.txt and test.txt.
"""

import os
import random

SEED = 2003
SIZES = {"train.txt": 400, "dev.txt": 100, "test.txt": 100}
HELD_OUT_FRACTION = 0.35

FIRST_NAMES = ["John", "Maria", "Ahmed", "Li", "Olga", "Pierre", "Kofi", "Yuki", "Carlos", "Anna", "David", "Fatima",
               "Hans", "Priya", "Tomas", "Elena", "Samuel", "Ingrid", "Rafael", "Mei", "Jordan", "Grace", "Ivan",
               "Nadia", "Lars", "Amara", "Paolo", "Sophie", "Kenji", "Lucia"]
SURNAMES = ["Smith", "Garcia", "Okafor", "Chen", "Petrova", "Dubois", "Mensah", "Tanaka", "Silva", "Novak", "Keller",
            "Haddad", "Larsen", "Sharma", "Rossi", "Kowalski", "Nguyen", "Jensen", "Moreau", "Ivanov", "Campbell",
            "Fischer", "Mbeki", "Lindqvist", "Ortega", "Brennan", "Yamamoto", "Costa", "Walsh", "Horvath"]
LOCATIONS = ["Paris", "London", "Berlin", "Tokyo", "Nairobi", "Lima", "Oslo", "Cairo", "Madrid", "Sydney", "Toronto",
             "Mumbai", "New York", "Buenos Aires", "Hong Kong", "South Africa", "France", "Germany", "Brazil", "Japan",
             "Kenya", "Norway", "Egypt", "Canada", "India", "Peru", "Jordan", "Rio de Janeiro", "Lake Geneva",
             "the Alps", "Scotland", "Vietnam", "Chile", "Warsaw", "Lisbon", "Seoul"]
ORGANIZATIONS = ["Reuters", "Siemens", "Toyota", "the United Nations", "the World Bank", "Real Madrid",
                 "Manchester United", "Ajax", "Barclays", "Nokia", "Petrobras", "the European Commission",
                 "Bank of England", "Oxford University", "Red Cross", "Airbus", "Ferrari", "Unilever",
                 "the Central Bank", "NATO", "Boca Juniors", "Samsung", "Volvo", "Greenpeace", "Interpol",
                 "Deutsche Bank", "Celtic", "Juventus", "the Labour Party", "Shell"]
NATIONALITIES = ["German", "French", "Japanese", "Brazilian", "Kenyan", "Norwegian", "Egyptian", "Canadian",
                 "Indian", "Peruvian", "Italian", "Spanish", "Russian", "Chinese", "Australian", "Polish", "Swiss",
                 "Dutch", "Mexican", "Korean"]
EVENTS = ["World Cup", "Olympic Games", "Tour de France", "Davis Cup", "Wimbledon", "Champions League",
          "Euro 2000", "Nobel Prize", "Grand Prix", "Asian Games", "Africa Cup of Nations", "US Open"]
# The definite article belongs to the name only where the list spells it so ("the United Nations").
SLOTS = {"PER": "PER", "PER2": "PER", "SUR": "PER", "LOC": "LOC", "LOC2": "LOC", "ORG": "ORG", "ORG2": "ORG",
         "NAT": "MISC", "NAT2": "MISC", "EVENT": "MISC"}

TEMPLATES = [
    "{PER} , the chief executive of {ORG} , said on {DAY} that sales in {LOC} rose {NUM} percent .",
    "{ORG} beat {ORG2} {SCORE} in {LOC} on {DAY} .",
    "{NAT} officials met {PER} in {LOC} to discuss the {EVENT} .",
    "Shares in {ORG} fell {NUM} percent in {LOC} trading on {DAY} .",
    "{PER} ( {LOC} ) {TIME}",
    "{LOC} {DAY} .",
    "{PER} won the {EVENT} for the second time .",
    "The {NAT} government said {ORG} would open a new office in {LOC} .",
    "{SUR} told {ORG} that the talks in {LOC} had failed .",
    "Police in {LOC} arrested {NUM} people after the match between {ORG} and {ORG2} .",
    "{PER} , who moved to {LOC} in {YEAR} , joined {ORG} last year .",
    "The {EVENT} will be held in {LOC} in {YEAR} .",
    "{ORG} said it had agreed to buy a stake in {ORG2} for {NUM} million dollars .",
    "{NAT} striker {PER} scored twice as {ORG} won {SCORE} .",
    "Prices rose sharply in {LOC} and {LOC2} on {DAY} , traders said .",
    "{PER} and {PER2} will lead the {NAT} team at the {EVENT} .",
    "Rain delayed the start of play in {LOC} .",
    "The meeting ended without a statement .",
    "{SUR} said he expected a decision by {DAY} .",
    "A spokesman for {ORG} declined to comment .",
    "{NAT} and {NAT2} ministers will meet in {LOC} next week .",
    "Floods in {LOC} killed at least {NUM} people , the {ORG} said .",
    "{PER} is the first {NAT} player to win in {LOC} since {YEAR} .",
    "{ORG} reported a profit of {NUM} million pounds for the year .",
    "Leading results : {PER} ( {LOC} ) {TIME} , {PER2} ( {LOC2} ) {TIME} .",
    "{SUR} was born in {LOC} and studied at {ORG} .",
    "Talks between {ORG} and {ORG2} resumed in {LOC} on {DAY} .",
    "The {NAT} coach {PER} named {NUM} new players .",
    # Held out of train.txt (see HELD_OUT_TEMPLATES): new contexts for known kinds of entities.
    "In {LOC} , {PER} told reporters that {ORG} would not appeal .",
    "{ORG} , based in {LOC} , hired {PER} as its new director .",
    "Fans of {ORG} celebrated in the streets of {LOC} after the {EVENT} final .",
    "The {NAT} embassy in {LOC} was closed on {DAY} .",
]
HELD_OUT_TEMPLATES = 4  # the last ones above
LONG_SENTENCE_EVERY = 40  # one results table in this many sentences: long enough to need several windows
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def split_names(rng, names):
    """(seen, all): the names train.txt may use, and every name (dev and test draw from all)."""
    shuffled = names[:]
    rng.shuffle(shuffled)
    return shuffled[: len(shuffled) - int(len(shuffled) * HELD_OUT_FRACTION)], names


def person(rng, first_names, surnames):
    return rng.choice(first_names) + " " + rng.choice(surnames) if rng.random() < 0.8 else rng.choice(surnames)


def draw(rng, slot, pools):
    """A name for `slot`: a person's full name or surname, or an item of the slot's list."""
    if slot in ("PER", "PER2"):
        return person(rng, pools["first"], pools["sur"])
    if slot == "SUR":
        return rng.choice(pools["sur"])
    return rng.choice(pools[slot.rstrip("2")])


def fill(rng, template, pools):
    """The (word, tag) pairs of one filled template."""
    pairs = []
    used = set()  # no name twice in one sentence ("Swiss and Swiss ministers")
    for token in template.split():
        if not (token.startswith("{") and token.endswith("}")):
            pairs.append((token, "O"))
            continue
        slot = token[1:-1]
        if slot in SLOTS:
            entity_type = SLOTS[slot]
            name = draw(rng, slot, pools)
            while name in used:
                name = draw(rng, slot, pools)
            used.add(name)
            words = name.split()
            if words[0] == "the":  # "the United Nations": the article is not part of the entity
                pairs.append(("the", "O"))
                words = words[1:]
            pairs.extend((word, ("B-" if i == 0 else "I-") + entity_type) for i, word in enumerate(words))
        elif slot == "DAY":
            pairs.append((rng.choice(DAYS), "O"))
        elif slot == "NUM":
            pairs.append((str(rng.randint(2, 95)), "O"))
        elif slot == "YEAR":
            pairs.append((str(rng.randint(1960, 1999)), "O"))
        elif slot == "SCORE":
            pairs.append((f"{rng.randint(0, 5)}-{rng.randint(0, 5)}", "O"))
        elif slot == "TIME":
            pairs.append((f"{rng.randint(1, 3)}:{rng.randint(10, 59)}.{rng.randint(10, 99)}", "O"))
        else:
            raise ValueError(f"unknown slot {slot}")
    return pairs


def results_table(rng, pools):
    """A long sentence in the style of CoNLL-2003's sports results: 'Leading scores : A (X) 66 , B (Y) 67 , ...'."""
    pairs = [("Leading", "O"), ("scores", "O"), (":", "O")]
    for index in range(rng.randint(14, 20)):
        if index:
            pairs.append((",", "O"))
        pairs += fill(rng, "{PER} ( {LOC} ) {NUM}", pools)
    return pairs + [(".", "O")]


def sentences(rng, count, pools, templates):
    result = []
    for index in range(count):
        if index % LONG_SENTENCE_EVERY == LONG_SENTENCE_EVERY - 1:
            result.append(results_table(rng, pools))
        else:
            result.append(fill(rng, rng.choice(templates), pools))
    return result


def to_conll(sentence_list):
    blocks = ["".join(f"{word} {tag}\n" for word, tag in sentence) for sentence in sentence_list]
    return "-DOCSTART- O\n\n" + "\n".join(blocks)


def main():
    rng = random.Random(SEED)
    lists = {"first": FIRST_NAMES, "sur": SURNAMES, "LOC": LOCATIONS, "ORG": ORGANIZATIONS,
             "NAT": NATIONALITIES, "EVENT": EVENTS}
    seen, everything = {}, {}
    for key, names in lists.items():
        seen[key], everything[key] = split_names(rng, names)
    folder = os.path.dirname(os.path.abspath(__file__))
    for name, count in SIZES.items():
        training = name == "train.txt"
        pools = seen if training else everything
        templates = TEMPLATES[:-HELD_OUT_TEMPLATES] if training else TEMPLATES
        text = to_conll(sentences(rng, count, pools, templates))
        with open(os.path.join(folder, name), "w", encoding="utf-8") as output:
            output.write(text)


if __name__ == "__main__":
    main()
