/* fuzz_control.c: the bridge's control command parser
 * (swb_bridge_control_handle): any bytes get exactly one JSON object as
 * the reply, on a bridge set up like a real one (bridge_env.h). */
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "bridge_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	swb_bridge *b = fuzz_bridge();
	char *reply = swb_bridge_control_handle(b, (const char *)data, size);
	if (!reply)
		abort();
	cJSON *o = cJSON_Parse(reply);
	if (!cJSON_IsObject(o))
		abort(); /* every reply is one JSON object */
	cJSON_Delete(o);
	free(reply);
	return 0;
}
