"""Which records make up each step (native-runtime/train/data/plan.ts): consecutive slices of a
per-epoch permutation that depends only on (seed, epoch), last partial batch dropped. A step's
batch is a function of the step number alone, so a resumed run needs no shuffle state."""
from .rng import epoch_permutation


class BatchPlan:
    def __init__(self, dataset_size: int, batch_size: int, seed: int, shuffle: bool):
        self.n = dataset_size
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self._epoch = -1
        self._order: list = []

    @property
    def steps_per_epoch(self) -> int:
        return 1 if self.n < self.batch_size else self.n // self.batch_size

    def position(self, step: int) -> tuple:
        spe = self.steps_per_epoch
        return step // spe, step % spe

    def order(self, epoch: int) -> list:
        if epoch != self._epoch:
            self._order = epoch_permutation(self.n, self.seed, epoch) if self.shuffle else list(range(self.n))
            self._epoch = epoch
        return self._order

    def indices_for_step(self, step: int) -> list:
        epoch, batch = self.position(step)
        start = batch * self.batch_size
        return self.order(epoch)[start:min(start + self.batch_size, self.n)]
