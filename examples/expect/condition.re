#args: 0.05
^Produced 0$
^consumer-[12] consumed 
^consumed 5 of 5 items$
