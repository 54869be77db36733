#args: 0.1
^Result: Processed by Worker-1$
^Result: Processed by Worker-2$
