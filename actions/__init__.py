"""ShopAssist actions package."""
