#ifndef HSM_PROVIDER_KEY_TEXT_H
#define HSM_PROVIDER_KEY_TEXT_H

#include "provider/provider.h"

extern const OSSL_DISPATCH hsm_key_text_encoder_functions[];

#endif
