#args: 0.1
^wait\(timeout=0.05\) before anyone sets it: timed out$
^Signaler: Setting event$
^Waiter: Event received!$
^is_set: true$
