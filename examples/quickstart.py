"""Quickstart: an rnnkit LSTM inside a plain PyTorch training loop, on the bundled JapaneseVowels.

Run: ``python examples/quickstart.py`` (no network needed).
"""

import torch

from rnnkit.datasets import uea
from rnnkit.layers import LSTM, Dense
from rnnkit.utils import set_random_seed

set_random_seed(0)
train, test = uea.load_data("JapaneseVowels")
x_train, y_train = torch.tensor(train.x), torch.tensor(train.y)
x_test, y_test = torch.tensor(test.x), torch.tensor(test.y)
m_train, m_test = torch.tensor(train.mask), torch.tensor(test.mask)

lstm = LSTM(64)  # fused kernel; the right-padded mask runs as packed sequences
head = Dense(train.num_classes)
params = None
for _epoch in range(30):
    perm = torch.randperm(len(x_train))
    for i in range(0, len(perm), 32):
        idx = perm[i : i + 32]
        logits = head(lstm(x_train[idx], mask=m_train[idx]))
        loss = torch.nn.functional.cross_entropy(logits, y_train[idx])
        if params is None:
            params = list(lstm.parameters()) + list(head.parameters())
            opt = torch.optim.Adam(params, lr=3e-3)
        opt.zero_grad()
        loss.backward()
        opt.step()
with torch.no_grad():
    acc = (head(lstm(x_test, mask=m_test)).argmax(-1) == y_test).float().mean().item()
print(f"JapaneseVowels test accuracy: {acc:.3f}")
