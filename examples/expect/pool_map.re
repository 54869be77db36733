#args: 0.3
^INFY: 1800$
^TCS: 3900$
^WIPRO: 450$
^https://github.com: [0-9]+ bytes$
^https://broken.example: Error - GET https://broken.example: connection reset$
^https://example.com: [0-9]+ bytes$
^https://python.org: [0-9]+ bytes$
