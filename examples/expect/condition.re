#args: 0.05
^Produced 0$
^consumer-[123] consumed 
^consumer-[123]: finished after [0-9]+ items$
^consumer-[123]: finished after [0-9]+ items$
^consumer-[123]: finished after [0-9]+ items$
^consumed 10 of 10 items$
