/* Seed: "RLock: reentrant locks for recursive code" and the BankAccount
 * transfer. outer() holds the lock and calls inner(), which takes it again:
 * with a weft_rlock the same thread may; with a weft_lock it would get
 * EDEADLK (Python's Lock would hang). */
#include "example.h"

static weft_rlock *lock;

static void inner(void)
{
    WEFT_WITH_RLOCK(lock); /* the same thread acquires again */
    printf("Inner acquired lock (level %u)\n", weft_rlock_count(lock));
}

static void outer(void)
{
    WEFT_WITH_RLOCK(lock);
    printf("Outer acquired lock (level %u)\n", weft_rlock_count(lock));
    inner();
}

struct account {
    long balance;
    weft_rlock *lock;
};

static void deposit(struct account *a, long amount)
{
    WEFT_WITH_RLOCK(a->lock);
    a->balance += amount;
}

/* Takes amount from `self` into `other`, holding both locks; deposit() takes
 * other's lock a second time, which only a reentrant lock allows. Locks are
 * always taken in one global order (by address) so that two opposite
 * transfers cannot deadlock. */
static void transfer(struct account *self, struct account *other, long amount)
{
    struct account *first = self < other ? self : other;
    struct account *second = self < other ? other : self;
    WEFT_WITH_RLOCK(first->lock);
    WEFT_WITH_RLOCK(second->lock);
    self->balance -= amount;
    deposit(other, amount);
}

struct transfers {
    struct account *from, *to;
};

static int transfer_many(void *arg, void **unused)
{
    struct transfers *t = arg;
    for (int i = 0; i < 10000; i++)
        transfer(t->from, t->to, 1);
    return 0;
}

int main(void)
{
    TRY(weft_rlock_new(&lock));
    outer();
    printf("after outer: level %u\n", weft_rlock_count(lock));
    weft_rlock_free(lock);

    struct account a = {1000000, NULL}, b = {1000000, NULL};
    TRY(weft_rlock_new(&a.lock));
    TRY(weft_rlock_new(&b.lock));
    struct transfers ab = {&a, &b}, ba = {&b, &a};
    weft_thread *t1, *t2;
    TRY(weft_thread_start(&t1, transfer_many, &ab, NULL));
    TRY(weft_thread_start(&t2, transfer_many, &ba, NULL));
    TRY(weft_thread_join(t1, WEFT_FOREVER));
    TRY(weft_thread_join(t2, WEFT_FOREVER));
    weft_thread_free(t1);
    weft_thread_free(t2);
    printf("balances: a=%ld b=%ld total=%ld\n", a.balance, b.balance, a.balance + b.balance);
    weft_rlock_free(a.lock);
    weft_rlock_free(b.lock);
    return a.balance + b.balance == 2000000 ? 0 : 1;
}
