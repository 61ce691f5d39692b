"""Trains a small LSTM classifier with ``fit``; run alone or under ``torchrun`` by test_distributed.py.

Writes, into the output directory given as argv[1]: ``rank<R>.npz`` (final weights), ``rank<R>.json``
(History, epochs run by EarlyStopping, evaluate and predict results) and ``writes_rank<R>.txt`` (every
file write rnnkit's ModelCheckpoint / CSVLogger / save attempted from this rank).
"""

import json
import os
import sys

import numpy as np
import torch

import rnnkit
from rnnkit import callbacks, layers
from rnnkit.saving import native


def main(out):
    torch.set_num_threads(1)
    rank = int(os.environ.get("RANK", "0"))
    writes = []
    _save = native.save_model


    def recording_save(model, path, **kw):
        writes.append(("save", os.path.basename(str(path))))
        return _save(model, path, **kw)


    native.save_model = recording_save
    _csv_begin = callbacks.CSVLogger.on_train_begin


    def recording_csv(self, logs=None):
        writes.append(("csv", os.path.basename(self.filename)))
        return _csv_begin(self, logs)


    callbacks.CSVLogger.on_train_begin = recording_csv


    def data():
        rng = np.random.default_rng(0)
        x = rng.normal(size=(70, 6, 3)).astype("float32")
        y = (x[:, :, 0].sum(1) > 0).astype("int64")
        return x, y


    def model():
        rnnkit.utils.set_random_seed(0)
        m = rnnkit.Sequential([layers.LSTM(8), layers.Dense(2)])
        m.compile(optimizer=rnnkit.optimizers.Adam(0.01),
                  loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        return m


    x, y = data()
    m = model()
    hist = m.fit(x, y, batch_size=16, epochs=2, shuffle=True, verbose=0, callbacks=[
        callbacks.ModelCheckpoint(os.path.join(out, "ckpt.rnnkit")),
        callbacks.CSVLogger(os.path.join(out, "history.csv"))])
    result = {"history": hist.history,
              "evaluate": m.evaluate(x, y, batch_size=16, verbose=0, return_dict=True),
              "predict": m.predict(x[:13], batch_size=4, verbose=0).tolist()}
    np.savez(os.path.join(out, f"rank{rank}.npz"), *m.get_weights())
    # EarlyStopping: patience 0 on a loss that rises once the learning rate is absurd.
    m2 = model()
    m2.optimizer = rnnkit.optimizers.SGD(5.0)
    h2 = m2.fit(x, y, batch_size=16, epochs=8, verbose=0, validation_data=(x, y),
                callbacks=[callbacks.EarlyStopping(monitor="val_loss", patience=0)])
    result["early_stopping_epochs"] = len(h2.history["loss"])
    # bfloat16 autocast on CPU under DDP
    m3 = model()
    m3.compile(optimizer=rnnkit.optimizers.Adam(0.01), mixed_precision="bfloat16",
               loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    result["bf16_history"] = m3.fit(x, y, batch_size=16, epochs=1, verbose=0).history
    np.savez(os.path.join(out, f"rank{rank}_bf16.npz"), *m3.get_weights())
    # A shuffling DataLoader and a generator: every rank reads the same global batches, keeps its slice
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.as_tensor(x), torch.as_tensor(y)),
                                         batch_size=16, shuffle=True)
    m4 = model()
    result["loader_history"] = m4.fit(loader, epochs=2, verbose=0).history


    def batches():
        for i in range(0, 64, 16):
            yield x[i:i + 16], y[i:i + 16]


    result["generator_history"] = m4.fit(batches(), epochs=1, verbose=0).history
    np.savez(os.path.join(out, f"rank{rank}_loader.npz"), *m4.get_weights())
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)
    with open(os.path.join(out, f"writes_rank{rank}.txt"), "w") as f:
        f.write("\n".join(f"{a} {b}" for a, b in writes))


if __name__ == "__main__":  # a script: importing it (doctest collection) runs nothing
    main(sys.argv[1])
