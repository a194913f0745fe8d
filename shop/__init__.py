"""ShopAssist shop package."""
