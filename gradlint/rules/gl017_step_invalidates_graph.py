"""GL017: a backward through a graph whose saved weights an optimizer step changed."""

from gradlint.rules.base import GRAD_SOURCE, Rule, RuleDocs


def check(ctx):
    for backward, step, site in ctx.obs.step_invalidates.values():
        message = (f"`{ctx.code(backward)}` runs through a graph whose saved weights "
                   f"`{ctx.code(step)}` at line {ctx.line(step)} changed in place")
        help = ("PyTorch raises \"one of the variables needed for gradient computation has been "
                "modified by an inplace operation\". Run every backward through that graph "
                "before the step, or redo the forward pass after it.")
        related = [(step, "the step changes the saved weights here"),
                   (site, "the forward pass that saved them")]
        yield ctx.diagnostic(RULE, backward, message, related, help=help)


RULE = Rule(
    code="GL017",
    name="step-invalidates-graph",
    summary="A backward through a graph whose saved weights an optimizer step has changed.",
    check=check,
    needs=("backward", "step", GRAD_SOURCE),
    docs=RuleDocs(
        what="""
Finds a `backward()` through a graph that is still alive (kept by
`retain_graph=True`, or never backwarded yet) after an `optimizer.step()` changed,
in place, weights that this graph saved. A module's weights are saved when its input
requires grad, and always for a stack of two or more layers with weights (the second
layer's input requires grad); the step must be over those weights (when the optimizer's
parameters are known) on every path. The GAN loops of PyTorch-GAN's `softmax_gan` and
`cluster_gan` crash this way.
""",
        why="""
Autograd saves the tensors each operation needs for its backward (a linear layer keeps
its weight to compute the gradient of its input) and checks, at the backward, that
none was changed since. `optimizer.step()` updates the weights in place, so a second
backward through a graph recorded before the step fails with "RuntimeError: one of the
variables needed for gradient computation has been modified by an inplace operation".
Typical causes: `d_loss.backward(retain_graph=True)`, then `optimizer_D.step()`, then a
generator loss built from the same discriminator outputs; or a critic value reused in
the actor's loss after the critic's step.
""",
        example="""
import torch

critic = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
actor = torch.nn.Linear(4, 2)
critic_opt = torch.optim.SGD(critic.parameters(), lr=0.01)
state = torch.randn(8, 4)
value = critic(state)
critic_loss = (value - 1.0).pow(2).mean()
critic_loss.backward(retain_graph=True)
critic_opt.step()
actor_loss = -(torch.log_softmax(actor(state), -1)[:, 0] * value.squeeze(1)).mean()
actor_loss.backward()
""",
        use_instead="""
import torch

critic = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
actor = torch.nn.Linear(4, 2)
critic_opt = torch.optim.SGD(critic.parameters(), lr=0.01)
state = torch.randn(8, 4)
value = critic(state)
critic_loss = (value - 1.0).pow(2).mean()
critic_loss.backward()
critic_opt.step()
actor_loss = -(torch.log_softmax(actor(state), -1)[:, 0] * value.detach().squeeze(1)).mean()
actor_loss.backward()
""",
    ),
)
