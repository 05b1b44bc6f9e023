"""Short stories that state a fact and then say something more about it: the test items for the
late-correction experiments (the state-simulators page) and the linear probe (the logit-lens page).

Every item is a template (what the fact is about), two values of one kind (days, colours,
cities, numbers; each a single token after a space) and two names. Each pair of values is used
in both orders, so whichever value a model prefers a priori is the first-stated one as often as
the second. Every item is told in every condition; a condition fixes which value is *valid* (what
the story, read as a whole, says) and which was *mentioned last* (what recency would pick).
Deterministic: the same items, in the same order, every time.
"""

from dataclasses import dataclass

# --8<-- [start:templates]
VALUES = {  # four values of each kind; pairs go round the circle: (0, 1), (1, 2), (2, 3), (3, 0)
    "day": ("Monday", "Tuesday", "Thursday", "Friday"),
    "colour": ("red", "blue", "green", "yellow"),
    "city": ("Paris", "Rome", "Berlin", "Madrid"),
    "number": ("three", "five", "seven", "nine"),
}
TEMPLATES = {  # (the fact, the fact restated, the question); {name} is a person, {v} the value
    "day": (
        ("The meeting is on {v}", "it is on {v}", "So the meeting is on"),
        ("{name}'s party is on {v}", "it is on {v}", "So {name}'s party is on"),
    ),
    "colour": (
        ("{name}'s new car is {v}", "it is {v}", "So {name}'s new car is"),
        ("The front door is painted {v}", "it is painted {v}", "So the front door is painted"),
    ),
    "city": (
        ("{name} is flying to {v}", "{name} is flying to {v}", "So {name} is flying to"),
        ("The conference is in {v}", "it is in {v}", "So the conference is in"),
    ),
    "number": (
        ("{name}'s lucky number is {v}", "it is {v}", "So {name}'s lucky number is"),
        (
            "The hotel room is on floor {v}",
            "it is on floor {v}",
            "So the hotel room is on floor",
        ),
    ),
}
NAMES = ("Tom", "Anna", "Maria", "James", "Lucy", "Ben", "Sara", "Omar")
NEUTRAL = (
    "The weather was nice that day.",
    "Everyone had already eaten lunch.",
    "The office was quiet that afternoon.",
    "It had rained a little in the morning.",
)
# --8<-- [end:templates]


# --8<-- [start:conditions]
@dataclass(frozen=True)
class Condition:
    name: str
    story: str  # sentences after the fact: {X} first value, {Y} second, {C_X}/{C_Y} restated
    valid: str  # "X" or "Y": what the whole story says
    last: str  # "X" or "Y": the value mentioned last, which recency would pick


CONDITIONS = (
    Condition("stated", "{F_X}.", "X", "X"),
    Condition("neutral sentence", "{F_X}. {N}", "X", "X"),
    Condition("corrected", "{F_X}. Actually, I was wrong: {C_Y}.", "Y", "Y"),
    Condition("corrected, then neutral", "{F_X}. Actually, I was wrong: {C_Y}. {N}", "Y", "Y"),
    Condition("mentioned, not a correction", "{F_X}. {asker} asked whether {C_Y}.", "X", "Y"),
    Condition("negated", "{F_X}, not {Y}.", "X", "Y"),
    Condition(
        "correction retracted",
        "{F_X}. Actually, I was wrong: {C_Y}. No, sorry, forget that: I was right the first time.",
        "X",
        "Y",
    ),
    Condition(
        "retracted, value restated",
        "{F_X}. Actually, I was wrong: {C_Y}. No, sorry: {C_X} after all.",
        "X",
        "X",
    ),
)
# --8<-- [end:conditions]
BY_NAME = {c.name: c for c in CONDITIONS}


# --8<-- [start:item]
@dataclass(frozen=True)
class Item:
    kind: str  # "day", "colour", "city", "number"
    pair: int  # which pair of values of that kind (0-3); both orders share it
    template: tuple[str, str, str]  # (fact, restated, question)
    first: str  # the value stated first, e.g. "Monday"
    second: str  # the other value, e.g. "Friday"
    name: str  # the person in the template
    asker: str  # the person in "…asked whether…"
    neutral: str  # an irrelevant sentence

    @property
    def group(self) -> str:
        """The unit that train/test splits keep together: both orders of one pair of values."""
        return f"{self.kind}-{self.pair}"

    def value(self, which: str) -> str:
        """ "X" -> the first-stated value, "Y" -> the other one."""
        return {"X": self.first, "Y": self.second}[which]

    def prompt(self, condition: Condition) -> str:
        """The story in that condition, ending with the question: the model's next token is
        the answer."""
        fact, restated, question = (t.replace("{name}", self.name) for t in self.template)
        story = condition.story.format(
            F_X=fact.format(v=self.first),
            C_X=restated.format(v=self.first),
            C_Y=restated.format(v=self.second),
            Y=self.second,
            N=self.neutral,
            asker=self.asker,
        )
        return f"{story} {question}"


def items() -> list[Item]:
    """Every item: for each kind, each of its 4 pairs of values in both orders (32 in all).
    Templates alternate with the pair; names and neutral sentences rotate with the item."""
    found = []
    for kind, values in VALUES.items():
        for pair in range(len(values)):
            a, b = values[pair], values[(pair + 1) % len(values)]
            for first, second in ((a, b), (b, a)):
                i = len(found)
                found.append(
                    Item(
                        kind,
                        pair,
                        TEMPLATES[kind][pair % 2],
                        first,
                        second,
                        NAMES[i % len(NAMES)],
                        NAMES[(i + 3) % len(NAMES)],
                        NEUTRAL[i % len(NEUTRAL)],
                    )
                )
    return found


# --8<-- [end:item]
