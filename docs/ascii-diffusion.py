# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # ASCII-art diffusion: continuing a process never seen
#
# **The result first: this site's pretrained model does not do it.** Shown the first steps of
# a process that turns noisy ASCII art into a larger, cleaner picture, and asked for the next
# step, the 135-million-parameter pretrained model never writes a canvas of the right size —
# not with a plain-text prompt, sampled or greedily, and not with its own chat template —
# and it gets fewer cells right than the mindless rule of stretching the last step it was
# shown. The numbers are in the first output below, and every run is shown further down.
# Part of this failure may be the tokenizer's doing rather than the model's (see what the
# pretrained model reads, below), and the model is a small, instruction-tuned one run from
# 4-bit weights (see [which model, and why it matters](../#which-model)). A tiny model trained on the process
# itself does continue it, also on pictures it never saw: the second half of the page.
#
# The seed essay of this site (kalomaze, *Understanding Transformers (beyond the Math)*, 2025)
# tests generalisation with an experiment of its own. A context holds a sequence of ASCII
# canvases made from a real picture, each step larger and less noisy than the one before; a
# model that has never seen this process must write the next step. In the essay, run in
# context on large chat models, the strongest model grew the canvas and kept the noise under
# control, a weaker one grew it but lost control of the noise, the smallest only copied its
# previous step, and below temperature 1.0 even the strong models got stuck copying. The
# essay's reading: models learn general states and distributions, not memorised text.
#
# This page does two things, and keeps them apart:
#
# 1. **Reproduction.** The same experiment, built in code from a photograph that ships with
#    matplotlib, run on this site's 135-million-parameter model at temperature 1.0, 0.7, 0.4
#    and with greedy decoding, over several seeds, every run scored and shown; and once more
#    with the prompt wrapped in the model's chat template.
# 2. **Our extension.** A tiny character-level transformer, trained *on the process itself*
#    with some pictures while three others are held out, then scored the same way on the
#    held-out pictures and, separately, on the pictures it trained on, beside the pretrained
#    model and beside simple rules that need no learning at all.
#
# This page is a notebook, executed while the site was built: every number and every picture
# below was printed by the code cell above it. The heavy steps (the pretrained model's
# generations, the tiny model's training) are cached functions in `snippets/`, so a rebuild
# re-runs the notebook in seconds; when they do run, the tiny model trains in a second process
# while the pretrained model writes. To run it yourself, see the end of the page.
#
# To download this notebook, see *The code on this page* at its end: one `.ipynb` file, made
# from the jupytext source `docs/ascii-diffusion.py` in the repository.

# %%
import warnings

from IPython.display import HTML, Markdown, display

import snippets.ascii.canvas as canvas
import snippets.ascii.diffusion as page
import snippets.ascii.tiny_model as tiny
from snippets.ascii.canvas import SEEDS, Recipe
from snippets.ascii.pretrained import chat_runs, pretrained_runs

# transformers asks for ipywidgets to draw progress bars in notebooks;
# the plain text bars are enough here.
warnings.filterwarnings("ignore", message="IProgress not found")

recipe = Recipe()
# The tiny model of the second half trains from now on in a second process (unless it is
# cached), so that on a machine with two cores the pretrained model can write meanwhile.
training = tiny.start_in_background(recipe)
sequences = {s: canvas.held_out_sequence(recipe, s) for s in SEEDS}
k = recipe.context
pretrained = pretrained_runs(recipe)  # generates only if not cached
chat = chat_runs(recipe)  # the same prompts in the model's chat template, if it has one
baselines = canvas.baseline_runs(recipe, SEEDS)
model_name = pretrained[0].model
display(HTML(page.STYLE))
for line in page.headline(pretrained + chat + baselines, [model_name, *{r.model for r in chat}]):
    print(line)
if not chat:
    print(f"{model_name} has no chat template: only the plain-text prompt was run.")
display(Markdown(page.recipe_table(recipe)))
print(f"Every model sees steps 1 to {k} and writes step {k + 1}:")
print(page.seeds_and_decodings() + ".")

# %% [markdown]
# ## The process
#
# The picture is `grace_hopper.jpg`, the portrait of Grace Hopper that matplotlib ships as
# sample data (nothing is downloaded). A centred window of the final canvas's shape is cut
# out; for each step it is shrunk to the step's size by averaging the pixels under each
# character cell, its contrast stretched, and each cell written as a character of the
# brightness ramp, from a space for white to `@` for black. Then that step's share of cells
# is replaced by noise, drawn from the printable characters that are *not* on the ramp — so
# that the noise left in any canvas can be counted exactly, by anyone. A seed fixes which
# cells and which characters; each seed gives the same picture different noise.

# %% tags=["remove-input"]
display(Markdown(page.source(canvas.render, canvas.add_noise, canvas.build_sequence)))

# %%
print("picture characters, light to dark:", repr(canvas.RAMP))
print(f"noise characters ({len(canvas.NOISE)}):")
print(canvas.NOISE[:42])
print(canvas.NOISE[42:])
(first, _), (last, _) = recipe.sizes[0], recipe.sizes[-1]
display(
    HTML(
        page.canvases_html(
            page.sequence_panels(sequences[0]),
            f"The steps of the sequence for seed 0, titled with their share "
            f"of noise: canvases growing from {first} to {last} characters "
            f"wide; then each step without noise.",
        )
    )
)

# %% [markdown]
# ## What the pretrained model reads
#
# The prompt is plain text: a one-line title, the context steps in Markdown code fences, and
# the heading and opening fence of the next step. The model continues from there, and its
# canvas is read up to its closing fence (or to the end of what it wrote). Here is the full
# prompt for seed 0, exactly as the model receives it:

# %%
print(canvas.prompt_text(sequences[0]))

# %% [markdown]
# The model does not read characters, though: it reads *tokens*, and its tokenizer merges
# runs of a character into one token. Here is one row of the step it should write, and the
# same row of the last step it was shown, cut where the tokenizer cuts them (a `│` between
# two tokens):

# %%
from snippets.ascii.pretrained import chat_prompt, token_pieces
from state_simulators.model import load

tokenizer = load().tokenizer
truth, shown = sequences[0].clean[k], sequences[0].noisy[k - 1]
row = len(truth) // 2
same_row = row * len(shown) // len(truth)
for label, line in ((f"step {k + 1}, the truth", truth[row]), (f"step {k}, as shown", shown[same_row])):
    pieces = token_pieces(line, tokenizer)
    print(f"{label}: {len(line)} characters, {len(pieces)} tokens")
    print("  " + page.token_boundaries(pieces))
counts = [len(token_pieces(line, tokenizer)) for line in truth]
longest = max(len(p) for line in truth for p in token_pieces(line, tokenizer))
print(
    f"Every row of step {k + 1} is {len(truth[0])} characters: {min(counts)} to {max(counts)} "
    f"tokens, of up to {longest} characters each."
)

# %% [markdown]
# So a row of the right width is not a row of the right number of tokens: to draw a grid
# the model must add up the lengths of tokens whose characters it never sees one by one, and
# the same stretch of picture is cut differently at every step, since the noise breaks runs
# apart. The pretrained model's chances of drawing a grid are worse for that, whatever it has
# understood of the process; the tiny model below reads one character per token and has no
# such handicap. This page does not separate the two causes (a prompt with one token per
# character, say with spaces between the characters, would be the control; it was not run).

# %% [markdown]
# ## How a canvas is scored
#
# Four questions, answered against the step the model should have written, and a fifth
# about the writing itself:
#
# - **Right size**: exactly the expected rows, every row exactly the expected width.
# - **Noise** (noise left): the share of written characters that are not picture
#   characters.
# - **Exact** (per-character accuracy): the share of the clean target's cells written with
#   exactly the right character at the same row and column; **±1 shade** also accepts a
#   picture character one ramp step off.
# - **Copy** (copy of the last step): how similar the written canvas is to the last step
#   shown, as difflib's similarity ratio; 100 % is a verbatim copy, the failure the essay
#   saw in small models.
# - **Repeats**: the share of the canvas's 8-character stretches that it has already
#   written earlier. A loop scores near 100 %; a real picture has some repeats (runs of
#   `@`), far fewer.
#
# Three rules that involve no model give the scale: *copy the last step* (the essay's failure
# mode, verbatim), *stretch the last step* to the new size, noise and all, and *stretch and
# denoise* — stretch, then fill each noise cell from the most recent earlier step that has a
# picture character there. The true step itself is scored too, for reference.

# %% tags=["remove-input"]
display(Markdown(page.source(canvas.score, canvas.stretch_and_denoise)))

# %% [markdown]
# The rules, scored on the held-out picture with every seed's noise:

# %%
display(Markdown(page.summary_table(baselines)))

# %% [markdown]
# ## Reproduction: the 135M model continues the sequence
#
# All runs go through transformers' own `generate` in one batch, each row sampling at its
# own temperature with no top-k or top-p cut (greedy rows keep only the top token), and each
# row has room for half as many tokens again as the true next canvas needs. A row stops at
# its closing fence, or as soon as its canvas is hopeless — a row more than twice as wide as
# it should be, or two rows too many — since nothing written after that could change its
# size verdict; the *ended* column says which. (`generate` computes a row that has stopped
# until the whole batch has, so it is called for a few tokens at a time, and the rows that
# have stopped leave the batch in between.) Every run is in the table, in the order it was
# made.

# %%
print(f"{model_name}, every run:")
display(Markdown(page.runs_table(pretrained)))

# %% [markdown]
# The means per decoding, with the three rules for scale:

# %%
display(Markdown(page.summary_table(pretrained + baselines)))
display(
    HTML(
        page.canvases_html(
            page.runs_panels(pretrained, sequences, seed=0),
            "For seed 0: the last step shown, the true next step, and what "
            "the pretrained model wrote at each temperature and greedily.",
        )
    )
)

# %% [markdown]
# Above, and in every canvas it wrote below, the canvases are clipped (a `…` marks a cut)
# and anything outside printable ASCII is drawn as `·`:

# %%
display(
    HTML(
        page.canvases_html(
            page.all_runs_panels(pretrained),
            "Every canvas the pretrained model wrote, small: one row per decoding, one canvas per seed.",
            small=True,
        )
    )
)
for line in page.describe(pretrained + baselines, model_name):
    print(line)

# %% [markdown]
# What the numbers say, in words. The 135M model lands at the bottom of the essay's ladder,
# or below it. In no run does it write a canvas of the right size, and it gets only a small
# share of cells right, far fewer than simply stretching the last step would. How it fails
# depends on the temperature, as the essay's section on temperature leads one to expect:
# sampled at T = 1.0 it writes mostly noise characters, while greedy decoding falls into a
# loop — one character, or one short line, again and again until the run gives up. Nor
# does it copy: no run comes close to a verbatim copy of the last step.
#
# ## The same, in the model's chat template
#
# The model is instruction-tuned, and a plain-text prompt is not what it was tuned on. So the
# same steps were also put to it as a chat: the title and the steps as the user's message,
# ending "Write step 4, in a code block like the others.", with the assistant's answer begun
# by the heading and opening fence of step 4 so that its canvas is read exactly as before.
# Sampled at T = 1.0, the temperature at which the essay's strongest model succeeded, with
# the same five seeds (one temperature only, to keep the build short):

# %%
if chat:
    print(chat_prompt(sequences[0], tokenizer))
    display(Markdown(page.runs_table(chat)))
    display(Markdown(page.summary_table(chat + baselines)))
else:
    print(f"{model_name} has no chat template: nothing to run here.")

# %% [markdown]
# ## Our extension: a tiny model trained on the process
#
# Can the process be learnt, and does what is learnt carry over to pictures never seen? A
# tiny transformer is trained from scratch, at build time, on sequences made from three of
# the other pictures matplotlib ships — a drawing of a gift box, the matplotlib logo and an
# elevation map — cut into random windows (random size and position, sometimes mirrored),
# and on pictures of random shapes drawn on the fly. Three pictures are held out and never
# trained on: the portrait, an MRI slice of a head, and a second elevation map (a coast and
# its sea floor). The scan is a kind of picture the model never saw; the map is of a kind it
# did. The sequences follow the same recipe as above: same sizes, same noise schedule. The
# loss is the usual next-character cross-entropy, over whole sequences.
#
# The model reads one character per token, the canvases separated by a blank line. Its one
# architectural idea: each character knows *where on its canvas* it sits, as a fraction of
# the canvas's width and height — worked out from the text, by counting characters and
# newlines — and attention is biased toward characters at the same place on the picture,
# whatever the canvas size: the two-dimensional cousin of ALiBi's bias toward nearby tokens.
# One head looks everywhere, the others ever more sharply at the same place. Since positions
# come from the recipe's canvas sizes, the model knows the schedule by construction: growing
# the canvas is given to it, and what it has to learn is what to write in each cell.

# %% tags=["remove-input"]
display(Markdown(page.source(tiny.Places, tiny.TinyModel.__init__, tiny.TinyModel.bias)))

# %%
# Waits for the training started at the top of the page, or loads the cached model.
model, record = tiny.trained(recipe)
settings = record["config"]
print(
    f"{tiny.parameter_count(model):,} parameters; {settings['steps']} steps of {settings['batch']} sequences."
)
print(
    "Trained during this build"
    if not record["cached"]
    else "Loaded from the cache; when it was trained, training took"
)
print(f"{record['seconds']:.0f} s on one CPU thread ({record['cpu_seconds']:.0f} s of CPU time).")
display(
    HTML(
        page.figure_html(
            page.loss_figure(record["losses"]),
            "The tiny model's training loss at every step: it falls fast, "
            "then slowly; it cannot reach zero, since noise is random.",
        )
    )
)

# %% [markdown]
# The trained model then writes the next step for the held-out portrait, with the same
# contexts, the same temperatures, the same room to write and the same rule for giving up
# as the pretrained model:

# %%
everywhere = tiny.tiny_runs(recipe)  # every picture, held out and trained on
mine = [r for r in everywhere if r.picture == canvas.TEST_PICTURE]
print(f"{tiny.NAME}, every run on {canvas.TEST_PICTURE}:")
display(Markdown(page.runs_table(mine)))
display(
    HTML(
        page.canvases_html(
            page.runs_panels(mine, sequences, seed=0),
            "For seed 0: the last step shown, the true next step, and what "
            "the tiny model wrote at each temperature and greedily.",
        )
    )
)

# %% [markdown]
# ## Held-out pictures, and the pictures it trained on
#
# One held-out picture could be a lucky one, and a score on it alone cannot tell learning
# the process from remembering the pictures. So the tiny model wrote the next step for all
# six pictures — the three held out and the three it trained on, each whole and centred as
# the portrait is (in training it saw random windows of them) — with the same seeds and
# seeds — every decoding for the portrait, sampling at T = 1 and greedy decoding for the
# others (to save time). Exact cells, the mean over the five seeds, beside the hand-written
# denoiser, the best of the rules:

# %%
rules_everywhere = canvas.baseline_runs(recipe, SEEDS, tiny.PICTURES)
display(Markdown(page.picture_table(everywhere + rules_everywhere, tiny.NAME)))
print("The tiny model's exact cells minus the denoiser's, per context (picture × seed):")
for decoding in ("greedy", "T = 1"):
    for line in page.generalisation(everywhere + rules_everywhere, tiny.NAME, decoding):
        print(line)

# %% [markdown]
# On every picture, held out or trained on, the tiny model writes a canvas of the right size
# in nearly every run, and greedily it gets more cells exactly right than the hand-written
# denoiser on each of the six. Its margin over the denoiser is smaller on the held-out
# pictures than on those it trained on — a generalisation gap, smaller than the margin
# itself — and sampled at T = 1 it falls slightly below the denoiser on the held-out
# pictures. Three held-out pictures are few: the intervals are over the fifteen contexts
# (three pictures × five noise seeds), so they say how sure the mean is for *these*
# pictures, not how much another choice of pictures would move it.
#
# ## Side by side
#
# Both models and the three rules, on the same held-out contexts:

# %%
runs = pretrained + mine + baselines
display(Markdown(page.summary_table(runs)))
display(
    HTML(
        page.figure_html(
            page.scores_figure(runs, [model_name, tiny.NAME]),
            "Scores by decoding for the pretrained and the tiny model, one dot "
            "per seed and a bar for the mean; the rules as horizontal lines.",
        )
    )
)
for line in page.verdict(runs, model_name, tiny.NAME):
    print(line)

# %% [markdown]
# ## What this shows, and what it does not
#
# - **What reproduces the essay.** A small pretrained model that has never seen the process
#   does not continue it: it neither grows the canvas to the right size nor keeps the noise
#   down, and neither lowering the temperature nor its chat template rescues it; the
#   temperature only changes how it fails, from noise into loops. The essay's smallest model
#   copied its previous step; ours, smaller still, does not even manage that. How much of
#   this is the tokenizer (a row of the right width is not a fixed number of tokens) and how
#   much the model, this page cannot say.
# - **What is ours.** The tiny model, trained on the process with other pictures, continues
#   the sequence for a picture it never saw: the right size every time, next to no noise,
#   and — greedily or at T = 0.4 — more cells exactly right than any of the three rules,
#   the hand-written denoiser included; greedily it also beats the denoiser on the two other
#   held-out pictures, by a little less than on the pictures it trained on. What it learnt
#   (where to look, and which characters to ignore) carries over to pictures it never saw.
#   It is a narrow skill, trained for one recipe; it says nothing about how large pretrained
#   models generalise, so it does not test the essay's claim about them. Sampled at T = 1.0
#   it loses its edge over the hand-written denoiser, because it draws from its own (T = 1)
#   distribution, which is honestly unsure which shade a cell should be. Greedy decoding and
#   low temperatures are
#   *mode-seeking*: they write the single likeliest shade in every cell, which raises the
#   share of exact cells but flattens the shading, so the canvases repeat themselves more
#   than the true picture does — the trained model's own small version of low-temperature
#   collapse.
# - **What it does not show.** The comparison is not like for like: the tiny model was
#   trained for exactly this recipe and knows its canvas sizes by construction, while the
#   pretrained model must infer everything from three examples, read as tokens of several
#   characters. One plain-text prompt and one chat-template prompt were used, with no search
#   for a better one; another fence, a prompt with one token per character, or a larger
#   model might do better. The pretrained model's canvas is read up to its closing fence, so a right
#   canvas in some other wrapping would be scored as wrong. A run is stopped once its canvas
#   is hopeless (a row over twice the width, or two rows too many), which shortens what the
#   failing runs wrote but cannot change their size verdict. And 135M parameters are far
#   from the large chat models the essay tried.
#
# ## Run it yourself
#
# Download the notebook (under *The code on this page*, below) and follow
# [Run a notebook](../run-locally/#run-a-notebook): it needs this site's repository and its
# environment (`make setup`).
#
# Its caches live in `.cache/ascii-diffusion/`: delete that folder to generate every run
# again and retrain the tiny model, a few minutes on a laptop CPU.
