"""The training loop the speed and slice scripts share (not a test): Adam, cross-entropy, a
fresh random permutation of the data each epoch, fixed-size minibatches. The caller seeds torch
before building the model, so a net trained here is the same net on every run."""

from __future__ import annotations


def fit(model, X, y, *, epochs: int, lr: float, batch: int, on_epoch=None):
    """Train ``model`` in place on ``(X, y)`` and return it; ``on_epoch(epoch, model)``, if
    given, is called after each epoch (1, 2, ...): checkpoints along one training run."""
    import torch
    import torch.nn as nn

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(len(X))
        for i in range(0, len(X), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
        if on_epoch is not None:
            on_epoch(epoch, model)
    return model
