"""ASCII-art diffusion, the data side: pictures, canvases, noise, sequences, and their scores.

A *sequence* is a list of ASCII canvases of one picture, each larger and less noisy than the
one before. Everything here is deterministic: the same picture, recipe and seed give the same
characters, on any machine.
"""

import contextlib
import dataclasses
import difflib
import hashlib
from dataclasses import dataclass, field

import numpy as np
from matplotlib import cbook
from PIL import Image, ImageDraw

RAMP = " .:-=+*#%@"  # picture characters, from light (space) to dark (@)
# Noise characters never appear in a clean canvas, so the noise left in any canvas can be
# counted exactly. Backticks are kept out: the pretrained model's prompt fences canvases
# with them.
NOISE = "".join(c for c in map(chr, range(33, 127)) if c not in RAMP and c != "`")
LEVEL = {c: i for i, c in enumerate(RAMP)}


@dataclass(frozen=True)
class Recipe:
    """The schedule of one sequence: canvas sizes (columns, rows) and the share of noise."""

    sizes: tuple[tuple[int, int], ...] = ((8, 4), (14, 7), (20, 10), (28, 14))
    noise: tuple[float, ...] = (0.75, 0.5, 0.25, 0.0)
    context: int = 3  # steps shown to a model; it must write the next one

    def __post_init__(self):
        if len(self.sizes) != len(self.noise):
            raise ValueError(f"{len(self.sizes)} sizes but {len(self.noise)} noise levels")
        if not 1 <= self.context < len(self.sizes):
            raise ValueError(
                f"context must be 1 to {len(self.sizes) - 1} steps, not {self.context}"
            )


TEMPERATURES = (1.0, 0.7, 0.4, None)  # every model is run at each; None: greedy decoding
SEEDS = (0, 1, 2, 3, 4)  # each seed: other noise in the context, and other samples


# Held out: the tiny model never trains on them. The first, a photograph, is also the one
# every model is compared on; the others are of kinds it trains on (a scan, an elevation map).
HELD_OUT_PICTURES = ("grace_hopper.jpg", "s1045.ima.gz", "topobathy.npz")
TEST_PICTURE = HELD_OUT_PICTURES[0]
TRAINING_PICTURES = ("logo2.png", "Minduka_Present_Blue_Pack.png", "jacksboro_fault_dem.npz")


def load_picture(name: str) -> np.ndarray:
    """A sample picture that ships with matplotlib, as grey levels in [0, 1] (1 = white)."""
    if name.endswith(".ima.gz"):  # an MRI slice: 256 × 256 16-bit values
        with cbook.get_sample_data(name) as f:  # opened through gzip already
            grey = np.frombuffer(f.read(), "<u2").reshape(256, 256).astype(np.float64)
    elif name.endswith(".npz"):  # elevation maps: high ground is bright
        arrays = cbook.get_sample_data(name)
        grey = np.asarray(arrays["elevation" if "elevation" in arrays else "topo"], float)
    else:  # photographs and drawings; transparent parts are shown on white paper
        image = Image.open(cbook.get_sample_data(name)).convert("RGBA")
        paper = Image.new("RGBA", image.size, "white")
        grey = np.asarray(Image.alpha_composite(paper, image).convert("L"), np.float64)
    return _unit(grey)


def _unit(grey: np.ndarray) -> np.ndarray:
    low, high = np.nanmin(grey), np.nanmax(grey)
    return np.nan_to_num((grey - low) / max(high - low, 1e-9)).astype(np.float32)


def shapes_picture(rng: np.random.Generator, side: int = 128) -> np.ndarray:
    """A procedurally drawn picture: a shaded background and two to five grey shapes."""
    ramp = np.linspace(*rng.uniform(0, 1, 2), side)
    back = np.add.outer(ramp, ramp[::-1] if rng.random() < 0.5 else ramp) / 2
    image = Image.fromarray((back * 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(2, 6)):
        x0, y0 = rng.integers(0, side * 3 // 4, 2)
        x1, y1 = (x0, y0) + rng.integers(side // 8, side // 2, 2)
        fill = int(rng.integers(0, 256))
        kind = rng.integers(3)
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        else:
            draw.polygon([(x0, y1), (x1, y1), ((x0 + x1) // 2, y0)], fill=fill)
    return _unit(np.asarray(image, np.float64))


def crop(
    picture: np.ndarray,
    aspect: float,
    scale: float = 1.0,
    where=(0.5, 0.5),
    flip: bool = False,
) -> np.ndarray:
    """The largest window of the given width/height `aspect`, shrunk by `scale`, placed at
    `where` (fractions of the free room), mirrored if `flip`."""
    rows, cols = picture.shape
    width = min(cols, rows * aspect) * scale
    height = width / aspect
    top = int(round((rows - height) * where[1]))
    left = int(round((cols - width) * where[0]))
    window = picture[top : top + max(1, int(height)), left : left + max(1, int(width))]
    return window[:, ::-1] if flip else window


def render(picture: np.ndarray, columns: int, rows: int) -> list[str]:
    """The picture as `rows` lines of `columns` characters: average the pixels under each
    character cell, stretch the contrast, and pick the ramp character for the darkness."""
    image = Image.fromarray(np.ascontiguousarray(picture, np.float32), mode="F")
    cells = np.asarray(image.resize((columns, rows), Image.Resampling.BOX), np.float64)
    low, high = np.percentile(picture, [2, 98])
    light = np.clip((cells - low) / max(high - low, 1e-6), 0, 1)
    levels = np.minimum((1 - light) * len(RAMP), len(RAMP) - 1).astype(int)
    return ["".join(RAMP[i] for i in row) for row in levels]


def add_noise(canvas: list[str], share: float, rng: np.random.Generator) -> list[str]:
    """Replace exactly round(share × cells) characters, chosen at random, by noise."""
    cells = np.array([list(row) for row in canvas])
    chosen = rng.choice(cells.size, size=int(round(share * cells.size)), replace=False)
    cells.flat[chosen] = rng.choice(list(NOISE), size=len(chosen))
    return ["".join(row) for row in cells]


@dataclass(frozen=True)
class Sequence:
    clean: tuple[tuple[str, ...], ...]  # each step without noise: what a perfect model writes
    noisy: tuple[tuple[str, ...], ...]  # each step as shown: with the recipe's share of noise
    recipe: Recipe = field(repr=False)


def build_sequence(picture: np.ndarray, recipe: Recipe, seed: int) -> Sequence:
    """Render the (already cropped) picture at every step's size and add that step's noise."""
    rng = np.random.default_rng(seed)
    clean = [render(picture, columns, rows) for columns, rows in recipe.sizes]
    noisy = [add_noise(canvas, share, rng) for canvas, share in zip(clean, recipe.noise)]
    return Sequence(tuple(map(tuple, clean)), tuple(map(tuple, noisy)), recipe)


def aspect(recipe: Recipe) -> float:
    """Pixel width/height of the final canvas: a character cell is about twice as tall as it
    is wide."""
    columns, rows = recipe.sizes[-1]
    return columns / (2 * rows)


def held_out_sequence(recipe: Recipe, seed: int, picture: str = TEST_PICTURE) -> Sequence:
    """A picture, whole (a centred window of the canvas's shape), for one seed: by default
    the held-out picture every model is compared on."""
    return build_sequence(crop(load_picture(picture), aspect(recipe)), recipe, seed)


def training_sequence(recipe: Recipe, seed: int, pictures: dict[str, np.ndarray]) -> Sequence:
    """A random window of a training picture (or a freshly drawn one), for the tiny model."""
    rng = np.random.default_rng([seed, 1])
    names = sorted(pictures)
    pick = rng.integers(len(names) + 1)  # one chance in (n + 1) of procedural shapes
    picture = pictures[names[pick]] if pick < len(names) else shapes_picture(rng)
    window = crop(
        picture,
        aspect(recipe),
        scale=rng.uniform(0.35, 1.0),
        where=tuple(rng.uniform(0, 1, 2)),
        flip=bool(rng.random() < 0.5),
    )
    return build_sequence(window, recipe, seed)


TITLE = "ASCII art, refined step by step: each canvas is larger and less noisy than the last."


def fenced(step: int, canvas) -> str:
    return f"Step {step}:\n```\n" + "\n".join(canvas) + "\n```\n\n"


def prompt_text(sequence: Sequence) -> str:
    """What the pretrained model reads: the first `context` steps, then the next's heading."""
    k = sequence.recipe.context
    shown = "".join(fenced(i + 1, canvas) for i, canvas in enumerate(sequence.noisy[:k]))
    return f"{TITLE}\n\n{shown}Step {k + 1}:\n```\n"


def parse_canvas(text: str) -> list[str]:
    """The canvas a model wrote: its lines up to the closing fence (or the end of the text)."""
    body = text.split("```")[0]
    lines = body.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


@dataclass(frozen=True)
class Score:
    columns: int  # the widest line written
    rows: int
    right_size: bool  # exactly the expected rows, every one exactly the expected width
    noise_left: float  # share of written characters that are not picture characters
    accuracy: float  # share of the target's cells written with exactly the right character
    near: float  # … with a picture character at most one ramp step away
    copy: float  # similarity to the last step shown (1.0 = a verbatim copy)
    repeats: float  # share of 8-character windows that already occurred earlier in the canvas


def repetition(text: str, width: int = 8) -> float:
    """How much of a text repeats itself: the share of its `width`-character windows that it
    has already written before (0 for text that never repeats, near 1 for a loop)."""
    seen, again = set(), 0
    windows = [text[i : i + width] for i in range(len(text) - width + 1)]
    for window in windows:
        again += window in seen
        seen.add(window)
    return again / max(len(windows), 1)


def score(canvas: list[str], target, previous) -> Score:
    """Compare a written canvas with the clean target step and with the last step shown."""
    rows, columns = len(target), len(target[0])
    written = "".join(canvas)
    exact = near = 0
    for r, line in enumerate(canvas[:rows]):
        for got, want in zip(line, target[r]):
            exact += got == want
            near += got in LEVEL and abs(LEVEL[got] - LEVEL[want]) <= 1
    return Score(
        columns=max(map(len, canvas), default=0),
        rows=len(canvas),
        right_size=len(canvas) == rows and all(len(line) == columns for line in canvas),
        noise_left=sum(c not in LEVEL for c in written) / max(len(written), 1),
        accuracy=exact / (rows * columns),
        near=near / (rows * columns),
        copy=difflib.SequenceMatcher(
            None, "\n".join(canvas), "\n".join(previous), autojunk=False
        ).ratio(),
        repeats=repetition("\n".join(canvas)),
    )


def hopeless(text: str, columns: int, rows: int) -> str | None:
    """Why a canvas still being written can no longer come out the right size, and is already
    far from it — a row over twice the width, or two rows too many — or None."""
    lines = text.split("```")[0].split("\n")  # the last one may be unfinished
    if max(map(len, lines)) > 2 * columns:
        return f"a row > {2 * columns} chars"
    if len(lines) - 1 > rows + 1:
        return f"> {rows + 1} rows"
    return None


def ending(text: str, columns: int, rows: int, end: str) -> str:
    """How a run ended: at the end mark of a canvas, by giving up, or out of room."""
    if end in text:
        return "end of canvas"
    reason = hopeless(text, columns, rows)
    return f"gave up: {reason}" if reason else "out of room"


@dataclass(frozen=True)
class Run:
    """One canvas written by a model (or a rule) for one context, and its score."""

    model: str
    temperature: float | None  # None: greedy decoding (or a rule, which does not sample)
    seed: int  # the seed of the context's noise
    text: str  # everything that was written
    canvas: tuple[str, ...]  # the canvas read from it
    score: Score
    ended: str = ""  # how the writing ended
    rule: bool = False  # written by a rule, not sampled from a model
    picture: str = TEST_PICTURE  # the picture the sequence was made from

    @property
    def decoding(self) -> str:
        if self.rule:
            return "—"
        return "greedy" if self.temperature is None else f"T = {self.temperature:g}"


def make_run(
    model: str,
    temperature,
    seed: int,
    text: str,
    canvas,
    sequence: Sequence,
    end: str | None = None,
    picture: str = TEST_PICTURE,
) -> Run:
    """Score `canvas` against the step after the context of `sequence` (made from
    `picture`); `end` is the mark that ends a canvas in `text` (None for a rule's canvas,
    which just ends)."""
    k = sequence.recipe.context
    columns, rows = sequence.recipe.sizes[k]
    return Run(
        model,
        temperature,
        seed,
        text,
        tuple(canvas),
        score(list(canvas), sequence.clean[k], sequence.noisy[k - 1]),
        "" if end is None else ending(text, columns, rows, end),
        picture=picture,
    )


def copy_previous(sequence: Sequence) -> list[str]:
    """Write the last step shown again, unchanged: the failure the seed essay saw."""
    return list(sequence.noisy[sequence.recipe.context - 1])


def _stretch(canvas, columns: int, rows: int) -> np.ndarray:
    """Nearest-neighbour resize: each new cell takes the character under its centre."""
    grid = np.array([list(line) for line in canvas])
    r = ((np.arange(rows) + 0.5) * grid.shape[0] / rows).astype(int)
    c = ((np.arange(columns) + 0.5) * grid.shape[1] / columns).astype(int)
    return grid[np.ix_(r, c)]


def stretch_previous(sequence: Sequence) -> list[str]:
    """Grow the last step shown to the new size, noise and all."""
    columns, rows = sequence.recipe.sizes[sequence.recipe.context]
    return ["".join(row) for row in _stretch(copy_previous(sequence), columns, rows)]


def stretch_and_denoise(sequence: Sequence) -> list[str]:
    """Grow the last step shown; where its cell is noise, use the latest earlier step whose
    cell there is a picture character (a hand-written denoiser that uses every step shown)."""
    k = sequence.recipe.context
    columns, rows = sequence.recipe.sizes[k]
    layers = [_stretch(canvas, columns, rows) for canvas in sequence.noisy[:k]]
    out = layers[-1].copy()
    for earlier in reversed(layers[:-1]):
        holes = ~np.isin(out, list(RAMP))
        out[holes] = earlier[holes]
    return ["".join(row) for row in out]


def true_step(sequence: Sequence) -> list[str]:
    """The step a perfect model would write: the reference, not a rule anyone could follow."""
    return list(sequence.clean[sequence.recipe.context])


BASELINES = {
    "copy the last step": copy_previous,
    "stretch the last step": stretch_previous,
    "stretch and denoise": stretch_and_denoise,
    "the true step": true_step,
}


def baseline_runs(recipe: Recipe, seeds, pictures=(TEST_PICTURE,)) -> list[Run]:
    """What the three rules (and the truth) write for each context of each picture."""
    runs = []
    for picture in pictures:
        for name, rule in BASELINES.items():
            for seed in seeds:
                sequence = held_out_sequence(recipe, seed, picture)
                canvas = rule(sequence)
                text = "\n".join(canvas)
                run = make_run(name, None, seed, text, canvas, sequence, picture=picture)
                runs.append(dataclasses.replace(run, rule=True))
    return runs


def cache_label(kind: str, *parameters) -> str:
    """A cached step's label: its kind and a short hash of the parameters of its run (recipe,
    settings, temperatures, seeds), so that each set of parameters is cached apart."""
    digest = hashlib.sha256(repr(parameters).encode()).hexdigest()
    return f"{kind}-{digest[:12]}"


@contextlib.contextmanager
def one_thread():
    """Run torch on one thread: results then do not depend on how many cores the machine has,
    and on a busy machine (a build beside other work) one thread is several times faster."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def add_arguments(parser) -> None:
    from state_simulators.arguments import seed

    parser.add_argument("--seed", type=seed, default=0, help="which noise (default 0)")


def demo(args, console) -> None:
    """`python -m snippets.ascii.canvas`: one sequence of the held-out picture, step by step."""
    sequence = held_out_sequence(Recipe(), args.seed)
    for step, (canvas, share) in enumerate(zip(sequence.noisy, sequence.recipe.noise)):
        console.rule(f"step {step + 1}: {len(canvas[0])} × {len(canvas)}, {share:.0%} noise")
        console.print("\n".join(canvas), highlight=False, markup=False)


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
