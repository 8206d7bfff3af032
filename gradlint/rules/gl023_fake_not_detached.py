"""GL023: a discriminator loss reached the generator (no `.detach()`), and the generator's
step applies that gradient."""

from gradlint.rules.base import GRAD_SOURCE, Rule, RuleDocs


def check(ctx):
    for backward, d_step, g_step, name in ctx.obs.fake_not_detached.values():
        message = (f"`{ctx.code(backward)}` also sends gradients into `{name}`, which "
                   f"`{ctx.code(g_step)}` at line {ctx.line(g_step)} then applies")
        help = (f"The discriminator's input was not detached, and nothing clears `{name}`'s "
                f"gradients before its step. Feed the discriminator `fake.detach()`, or zero "
                f"`{name}`'s gradients before its own backward.")
        related = [(d_step, "the discriminator's step"),
                   (g_step, f"this step applies both losses' gradients to `{name}`")]
        yield ctx.diagnostic(RULE, backward, message, related, help=help)


RULE = Rule(
    code="GL023",
    name="fake-not-detached",
    summary="A discriminator loss's gradient reaches the generator's step (fake not detached).",
    check=check,
    needs=("backward", "step", GRAD_SOURCE),
    docs=RuleDocs(
        what="""
Finds a backward whose loss reaches two modules, followed by a step of an optimizer
that covers only one of them (the discriminator), then a later backward through both
again (the generator's loss) and a step of the other module's optimizer, with nothing
clearing the other module's gradients in between: the GAN loop that feeds the
discriminator `fake` instead of `fake.detach()`. Not reported when the generator's
gradients are cleared before its own backward (that only wastes compute), nor for one
loss stepped by two optimizers, nor for a trunk shared by an actor and a critic whose
losses do not go through each other. Backwarding twice through the freed generator
graph is GL003's finding.
""",
        why="""
Without `.detach()`, the discriminator's loss back-propagates into the generator too,
and adds to the generator's `.grad`. That gradient points the wrong way for the
generator (it makes fakes easier to detect). Unless the generator's gradients are
zeroed before its own loss's backward, `optimizer_G.step()` applies the sum of both:
the generator is partly trained against its own objective, silently.
""",
        example="""
import torch

G = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8))
D = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=2e-4)
opt_d = torch.optim.Adam(D.parameters(), lr=2e-4)
bce = torch.nn.BCEWithLogitsLoss()
for step in range(3):
    opt_g.zero_grad()
    opt_d.zero_grad()
    fake = G(torch.randn(8, 4))
    d_loss = bce(D(torch.randn(8, 8)), torch.ones(8, 1)) + bce(D(fake), torch.zeros(8, 1))
    d_loss.backward()
    opt_d.step()
    g_loss = bce(D(G(torch.randn(8, 4))), torch.ones(8, 1))
    g_loss.backward()
    opt_g.step()
""",
        use_instead="""
import torch

G = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8))
D = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=2e-4)
opt_d = torch.optim.Adam(D.parameters(), lr=2e-4)
bce = torch.nn.BCEWithLogitsLoss()
for step in range(3):
    opt_g.zero_grad()
    opt_d.zero_grad()
    fake = G(torch.randn(8, 4))
    d_loss = bce(D(torch.randn(8, 8)), torch.ones(8, 1)) + bce(D(fake.detach()), torch.zeros(8, 1))
    d_loss.backward()
    opt_d.step()
    g_loss = bce(D(G(torch.randn(8, 4))), torch.ones(8, 1))
    g_loss.backward()
    opt_g.step()
""",
    ),
)
