"""A small image-classifier training script with three autograd mistakes in it.

Run it (needs PyTorch): python examples/train_classifier.py
Lint it (no PyTorch needed): gradlint check examples/
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)


class ConvNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, kernel_size=3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def make_loader(n, batch_size, shuffle):
    images = torch.randn(n, 1, 16, 16)
    labels = torch.randint(0, 10, (n,))
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=shuffle)


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            correct += (model(images).argmax(dim=1) == labels).sum().item()
            total += labels.numel()
    return correct / total


embed = nn.Linear(16 * 16, 16 * 16)
model = ConvNet()
optimizer = torch.optim.SGD(list(embed.parameters()) + list(model.parameters()), lr=0.05,
                            momentum=0.9)
train_loader = make_loader(256, 32, shuffle=True)
val_loader = make_loader(64, 32, shuffle=False)

optimizer.zero_grad()
for epoch in range(2):
    model.train()
    for images, labels in train_loader:
        # a learned input transform; computed without gradients, so `embed` never trains
        with torch.no_grad():
            mixed = embed(images.flatten(1)).view(-1, 1, 16, 16)
        logits = model(mixed)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
    # gradient of the logits, for a debugging printout: always None
    print(f"epoch {epoch}: loss {loss.item():.3f}, logits grad {logits.grad}")
    print(f"validation accuracy {evaluate(model, val_loader):.2%}")
