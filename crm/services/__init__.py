"""Services: the only code that writes. One module per card section.

Each public coroutine validates its input, runs one unit of work (transaction + journey
+ outbox) and returns the changed object. Every read and write is scoped to the actor's
account: ids of another account answer NOT_FOUND, exactly like ids that do not exist.
"""
