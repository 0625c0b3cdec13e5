/*
 * The property every algorithm of this provider carries, whatever name the
 * configuration gives the provider, and the query that keeps its software
 * work (keys it remembers, hashing, verification) off it.
 */
#ifndef HSM_CACHE_PROVIDER_PROPERTY_H
#define HSM_CACHE_PROVIDER_PROPERTY_H

#define HSM_PROVIDER_PROPERTY "hsm"
#define HSM_SOFTWARE_PROPQ "provider!=" HSM_PROVIDER_PROPERTY

#endif
