"""The loss classes and the student task each one grades, shared by the tests of module 04."""
from tasks import marked

from tinytorch.core.losses import BinaryCrossEntropyLoss, BinaryCrossEntropyWithLogitsLoss, CrossEntropyLoss, MSELoss

LOSS_CLASSES = [MSELoss, CrossEntropyLoss, BinaryCrossEntropyLoss, BinaryCrossEntropyWithLogitsLoss]
# CrossEntropyLoss with no options is stage 1 of cross entropy; its other stages have tests of their own.
LOSS_TASKS = {MSELoss: "04.1", CrossEntropyLoss: "04.3", BinaryCrossEntropyLoss: "04.7", BinaryCrossEntropyWithLogitsLoss: "04.8"}


def by_task(tasks_of=LOSS_TASKS.get):
    """LOSS_CLASSES as parametrize cases, each marked with its task."""
    return marked(LOSS_CLASSES, tasks_of, ids=lambda c: c.__name__)
