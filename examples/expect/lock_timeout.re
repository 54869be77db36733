#args: 0.05
^(right_order|also_right): got both locks 1000 times$
^(right_order|also_right): got both locks 1000 times$
^Timeout! Lock held elsewhere.$
^Got lock!$
