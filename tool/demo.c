/* demo.c: `weft demo` (placeholder until the embedded site lands). */
#include "commands.h"

#include <stdio.h>

int cmd_demo(int argc, char **argv)
{
    fprintf(stderr, "weft demo: not built yet\n");
    return 2;
}
